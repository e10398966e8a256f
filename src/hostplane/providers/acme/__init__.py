"""ACME certificates: orders validated over HTTP-01 through the edge."""
