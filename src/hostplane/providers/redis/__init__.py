"""Caches: one Redis instance per cache, supervised, and its ACL users."""
