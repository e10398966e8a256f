"""Docker engine and image fixtures (tests/services_docker.py)."""
