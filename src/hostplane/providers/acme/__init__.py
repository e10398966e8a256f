"""ACME certificates: orders validated over HTTP-01 through the edge, or over DNS-01 (wildcards)."""
