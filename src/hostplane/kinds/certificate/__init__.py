"""Certificates of custom domains: issued by ACME (HTTP-01) or uploaded, renewed on a schedule."""
