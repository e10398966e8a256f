"""The one list of kinds (parents before their children). The API app, the CLI, the engine,
the reconciler and the metrics loop over it; adding a kind is its folder and a line here.

Each entry is a kind's package: its `kind.KIND` is the descriptor the kernel gets, and its
`cli.install` adds its commands (the CLI imports only those, so that `hostctl` starts fast).
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hostplane.kernel.kind import Registry

KINDS = (
    "hostplane.kinds.tenant",
    "hostplane.kinds.site",
    "hostplane.kinds.domain",
    "hostplane.kinds.certificate",
    "hostplane.kinds.zone",
    "hostplane.kinds.database",
    "hostplane.kinds.cache",
)


@functools.cache
def registry() -> Registry:
    # Imported here, not above: the CLI reads KINDS and must not load the kernel to do so.
    from hostplane.kernel.kind import Registry

    return Registry([importlib.import_module(f"{package}.kind").KIND for package in KINDS])
