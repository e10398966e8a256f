"""HAProxy: the edge's host map, changed through the runtime API (issue 14)."""
