"""What this plane has on a Docker engine: its objects looked up by name (refused when another's),
removed only when its own, listed for the reconciler in one call per object kind, and pruned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker.errors
import structlog

from hostplane import naming
from hostplane.errors import ForeignResourceError
from hostplane.providers.base import Outcome
from hostplane.providers.docker.client import EngineClient
from hostplane.providers.docker.marks import Marks

log = structlog.get_logger(__name__)

KINDS = ("container", "volume", "network")


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    name: str
    site: str
    running: bool
    image: str


@dataclass(frozen=True, slots=True)
class DockerInventory:
    containers: dict[str, ObservedContainer]
    volumes: dict[str, str]  # name → site label
    networks: dict[str, str]


def collection(engine: EngineClient, kind: str) -> Any:
    client = engine.client
    return {"container": client.containers, "volume": client.volumes, "network": client.networks}[
        kind
    ]


def labels_of(obj: Any) -> dict[str, str]:
    """An object's labels, from an inspect (containers keep them in Config) or a sparse list."""
    attrs = obj.attrs
    labels = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
    return dict(labels)


def find(engine: EngineClient, marks: Marks, kind: str, name: str) -> Any | None:
    """Our `kind` named `name`; None when there is none; ForeignResourceError when there is one
    that is not ours."""
    obj = engine.get(collection(engine, kind), name)
    if obj is None or marks.owns(labels_of(obj)):
        return obj
    raise marks.foreign(kind, name, labels_of(obj))


def find_own(engine: EngineClient, marks: Marks, kind: str, name: str) -> Any | None:
    """Our `kind` named `name`, or None when there is none or it is not ours (logged)."""
    try:
        return find(engine, marks, kind, name)
    except ForeignResourceError as exc:
        log.warning("docker.foreign_left_alone", kind=kind, name=name, reason=str(exc))
        return None


def remove(engine: EngineClient, marks: Marks, kind: str, name: str, **kwargs: Any) -> bool:
    """Remove our `kind` named `name` (`kwargs` for its `remove`): True when it was removed,
    False when there is none or it is not ours (then it is left as it is)."""
    obj = find_own(engine, marks, kind, name)
    return obj is not None and remove_found(engine, kind, name, obj, **kwargs)


def remove_found(engine: EngineClient, kind: str, name: str, obj: Any, **kwargs: Any) -> bool:
    """Remove `obj`, found ours: False when it went away meanwhile."""
    try:
        engine.call(f"remove {kind} {name}", obj.remove, **kwargs)
    except docker.errors.NotFound:
        return False
    log.info("docker.removed", kind=kind, name=name)
    return True


def prune(engine: EngineClient, marks: Marks, kind: str, name: str) -> Outcome:
    """Remove one container, volume or network of ours that no live site owns; one that is not
    ours is refused (ForeignResourceError) and left alone."""
    if kind not in KINDS:
        raise ValueError(f"not a Docker object kind: {kind}")
    obj = find(engine, marks, kind, name)
    if obj is None:
        return Outcome.ABSENT
    kwargs = {"force": True} if kind == "container" else {}
    return Outcome.DELETED if remove_found(engine, kind, name, obj, **kwargs) else Outcome.ABSENT


def inventory(engine: EngineClient, marks: Marks) -> DockerInventory:
    """Every container, volume and network of ours: one list call each, filtered by our label
    (containers listed sparse, so no inspect per container)."""
    label = marks.list_filter()
    containers: dict[str, ObservedContainer] = {}
    listed = engine.call(
        "list containers", engine.client.containers.list, all=True, sparse=True, filters=label
    )
    for c in listed:
        labels = c.attrs.get("Labels") or {}
        if not marks.owns(labels):
            continue
        name = (c.attrs.get("Names") or ["/?"])[0].lstrip("/")
        containers[name] = ObservedContainer(
            name=name,
            site=labels.get(naming.SITE_LABEL, ""),
            running=c.attrs.get("State") == "running",
            image=str(c.attrs.get("Image", "")),
        )
    volumes = _sites_by_name(
        marks, engine.call("list volumes", engine.client.volumes.list, filters=label)
    )
    networks = _sites_by_name(
        marks, engine.call("list networks", engine.client.networks.list, filters=label)
    )
    return DockerInventory(containers, volumes, networks)


def _sites_by_name(marks: Marks, listed: list[Any]) -> dict[str, str]:
    return {
        obj.name: labels.get(naming.SITE_LABEL, "")
        for obj in listed
        if marks.owns(labels := labels_of(obj))
    }


def sites_with_objects(engine: EngineClient, marks: Marks) -> frozenset[str]:
    """Sites with any container, volume or network of ours: one list call per kind."""
    found: set[str] = set()
    for kind in KINDS:
        kwargs: dict[str, Any] = {"filters": marks.list_filter()}
        if kind == "container":
            kwargs["all"] = True
        for obj in engine.call(f"list {kind}s", collection(engine, kind).list, **kwargs):
            labels = labels_of(obj)
            if marks.owns(labels) and naming.SITE_LABEL in labels:
                found.add(labels[naming.SITE_LABEL])
    return frozenset(found)
