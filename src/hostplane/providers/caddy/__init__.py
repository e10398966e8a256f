"""Caddy edge: the whole config rendered from the database, loaded via the admin API."""
