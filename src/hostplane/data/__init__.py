"""Data files shipped with Hostplane (Cloudflare ranges)."""
