"""ASGI applications: the prediction gateway (``gateway``) and its parts."""
