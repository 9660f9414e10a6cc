"""Alembic migrations of Huiju's tables (run by ``huiju init`` through :mod:`huiju.migrate`)."""
