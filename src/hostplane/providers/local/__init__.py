"""Local runtime: sites on this host."""
