"""SQL backend: SQLAlchemy Core tables, Alembic migrations, and one store per stage."""

from flywheel_ml.backends.sql.database import Database, open_database

__all__ = ["Database", "open_database"]
