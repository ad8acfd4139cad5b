"""One router module per lifecycle stage (plus the dashboard); each exposes ``routes()``."""
