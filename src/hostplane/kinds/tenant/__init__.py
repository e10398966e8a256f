"""Tenants: the owners of sites, with their system account, SFTP, plans, suspension and
scoped API tokens."""
