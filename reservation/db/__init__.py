"""The database backend of every alias (settings.database_config): Django's PostgreSQL one,
with one change, in base.py."""
