"""The registry and the composition root, bound once per process by its entry point.

Durable steps are plain functions that receive references (operation ids), never objects, so
they find the kinds and the providers here.
"""

from __future__ import annotations

from typing import Any

from hostplane.kernel.kind import Registry

_registry: Registry | None = None
_context: Any = None


def bind(registry: Registry, context: Any) -> None:
    global _registry, _context
    _registry, _context = registry, context


def registry() -> Registry:
    if _registry is None:
        raise RuntimeError("no registry bound: the entry point must call kernel.runtime.bind")
    return _registry


def context() -> Any:
    if _context is None:
        raise RuntimeError("no services bound: the entry point must call kernel.runtime.bind")
    return _context
