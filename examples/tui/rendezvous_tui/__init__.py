"""A terminal client for Rendezvous: find a time together, book a provider, over GraphQL."""
