"""The ``flywheel`` command line: one module per lifecycle stage, each a thin adapter."""
