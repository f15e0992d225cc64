"""Alembic migrations of the Layerlab schema (run by server.db.migrate at start-up)."""
