"""Domain events that other layers (metrics, for one) may listen to, so the domain imports
nothing from them."""

from django.dispatch import Signal

# Sent by the expiry job with `count`: how many holds it just marked EXPIRED.
holds_expired = Signal()
