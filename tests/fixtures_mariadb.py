"""MariaDB test server fixtures (tests/services_mariadb.py)."""
