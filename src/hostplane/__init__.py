"""Hostplane: a control plane for web hosting."""
