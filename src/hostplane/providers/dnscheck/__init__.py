"""DNS lookups for domain validation."""
