"""Alembic migrations of the records schema (run by `luthien.storage.migrate`)."""
