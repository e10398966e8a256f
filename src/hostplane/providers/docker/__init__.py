"""Sites in Docker containers."""
