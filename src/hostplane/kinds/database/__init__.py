"""A tenant's MariaDB databases and their users (issue 17)."""
