"""reconciler"""
