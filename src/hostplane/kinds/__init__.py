"""One folder per resource kind, with the same file names for the same jobs; each exports one
descriptor (`kind.KIND`), listed in hostplane.registry."""
