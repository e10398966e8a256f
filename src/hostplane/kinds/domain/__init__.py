"""Custom domains of sites: proven by DNS, routed at the edge and through the tunnel."""
