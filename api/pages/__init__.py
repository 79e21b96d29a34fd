"""The one server-rendered page: what an e-mailed event link opens (see views.py)."""
