"""Per-site databases on MariaDB."""
