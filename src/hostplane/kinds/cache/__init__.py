"""A tenant's caches: a Redis instance of its own each, and its ACL users (issue 17)."""
