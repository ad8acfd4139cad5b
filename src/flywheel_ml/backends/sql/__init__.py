"""SQL backend: SQLAlchemy Core tables, Alembic migrations, and one store per stage.

Import the modules you need (``database``, ``migrate``, ``<stage>_store``); this package's
``__init__`` imports nothing so that ``revisions`` can be read without SQLAlchemy.
"""
