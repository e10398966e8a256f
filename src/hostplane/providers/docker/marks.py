"""Whose a Docker object is (pure: no engine here).

Everything this plane creates carries Hostplane's mark, the site's name and this plane's id as
labels. An object is this plane's when it carries this plane's id, or, only for a plane whose
store predates plane ids (`adopt_unmarked`), when it carries Hostplane's mark and no plane id
at all. Anything else under a name this plane wants (another plane's, or nobody's) is foreign:
never adopted, changed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hostplane import naming
from hostplane.errors import ForeignResourceError, PermanentError

PLANE_LABEL = f"{naming.LABEL_PREFIX}.plane"


@dataclass(frozen=True, slots=True)
class Marks:
    """`owner` is this plane's id; an empty one makes a runtime that may look at the engine
    (`hostctl doctor`) but owns, creates and removes nothing."""

    owner: str
    adopt_unmarked: bool = False

    def labels(self, site: str, **extra: str) -> dict[str, str]:
        """The labels of an object this plane creates for `site`."""
        if not self.owner:
            raise PermanentError(
                "this Docker runtime was built without a plane id: it creates nothing"
            )
        return {
            naming.MANAGED_LABEL: "true",
            naming.SITE_LABEL: site,
            PLANE_LABEL: self.owner,
            **extra,
        }

    def owns(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        if not self.owner:
            return False
        plane = labels.get(PLANE_LABEL)
        if plane is not None:
            return plane == self.owner
        return self.adopt_unmarked and labels.get(naming.MANAGED_LABEL) == "true"

    def marked(self, labels: Mapping[str, str] | None) -> bool:
        """Ours and carrying our id (an adopted object carries none until it is recreated)."""
        return bool(self.owner) and (labels or {}).get(PLANE_LABEL) == self.owner

    def list_filter(self) -> dict[str, str]:
        """The label filter of a list call that returns at least every object of ours (the
        caller still keeps only what `owns` accepts: with adoption the engine cannot express
        "no plane label")."""
        if self.adopt_unmarked:
            return {"label": f"{naming.MANAGED_LABEL}=true"}
        return {"label": f"{PLANE_LABEL}={self.owner}"}

    def foreign(
        self, kind: str, name: str, labels: Mapping[str, str] | None
    ) -> ForeignResourceError:
        """The refusal for a `kind` named `name` that is not ours."""
        return ForeignResourceError(
            f"Docker {kind} {name} already exists and belongs to {owner_of(labels)}, not to "
            f"this control plane ({self.owner or 'no plane id'}): it is left alone; remove or "
            "rename it, or choose another site name"
        )


def owner_of(labels: Mapping[str, str] | None) -> str:
    """Who an object belongs to, as its labels say."""
    labels = labels or {}
    plane = labels.get(PLANE_LABEL)
    if plane is not None:
        return f"control plane {plane}"
    if labels.get(naming.MANAGED_LABEL) == "true":
        return f"a Hostplane from before plane ids (no {PLANE_LABEL} label)"
    return "someone outside Hostplane (no Hostplane labels)"
