"""The kernel: the one path every kind goes through (record intent, run a durable saga of
idempotent steps, confirm, commit, reconcile). It names no kind: it is handed the registry."""
