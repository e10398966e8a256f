"""Cloudflare tunnel: the cloudflared ingress file and the tunnel's DNS routes."""
