"""Request and response bodies of the public API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# Pattern → what it means, for error messages that say what to fix (see api.errors).
PATTERN_HINTS: dict[str, str] = {}
# Tags of request bodies that are a union of models (one per type): not a field, so they are
# left out of an error's location.
UNION_TAGS: set[str] = set()
# A field one body of such a union has and another lacks → what to say when it is given there.
EXTRA_HINTS: dict[str, str] = {}


def hinted(pattern: str, hint: str) -> str:
    """`pattern`, remembered with its meaning for the 422 answer that quotes it."""
    PATTERN_HINTS[pattern] = hint
    return pattern


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls (api.auth): `actor` (for events and the audit log); `scope`, the id of the
    tenant a scoped token belongs to (None: the operator), and that tenant's name."""

    actor: str
    scope: str | None = None
    scope_name: str | None = None


def _whole_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer of a request body: JSON has one number type and JSON Schema's "integer" is any
# number without a fraction, so 3.0 is 3; 3.5, "3" and true stay refused (strict).
JsonInt = Annotated[int, BeforeValidator(_whole_number)]


class RequestBody(BaseModel):
    """Every request body: unknown fields refused, and values of exactly the declared JSON
    type (no 0 for false, no "1" for 1)."""

    # Python's regular expressions: the published patterns use look-ahead, which
    # pydantic's default engine lacks.
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class OperationRef(BaseModel):
    id: str
    kind: str
    status: str
    url: str


class EventView(BaseModel):
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    operation_id: str | None
    at: datetime


class StepView(BaseModel):
    name: str
    phase: str
    status: str
    outcome: str | None
    detail: str | None
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    elapsed_ms: float | None


class OperationView(BaseModel):
    id: str
    kind: str
    status: str
    target_kind: str
    target: str
    actor: str
    error: str | None
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepView]


class AuditView(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target: str
    decision: str
    reason: str
    operation_id: str | None
    snapshot: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditView]
    next: int | None


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class ErrorBody(BaseModel):
    error: str
    message: str


class FindingView(BaseModel):
    kind: Literal["missing", "drifted", "orphaned", "lost"]
    resource: str = Field(description="<type>:<name>, e.g. container:php_blog")
    site: str | None
    detail: str
    action: str = Field(description="repair, regenerate-edge, regenerate-tunnel or prune")
    handler: str | None = Field(default=None, description="the kind that found it and acts on it")
    result: str | None = Field(default=None, description="what the reconcile did about it")


class DriftView(BaseModel):
    findings: list[FindingView]
    counts: dict[str, int]
    unreachable: dict[str, str] = Field(description="providers that could not be observed")
    provider_calls: int


class ReconcileRequest(RequestBody):
    dry_run: bool = False
    prune: bool = False


class ReconcileRunView(BaseModel):
    id: str
    trigger: str
    dry_run: bool
    prune: bool
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    counts: dict[str, int]
    findings: list[FindingView]
    repairs: int
    errors: list[str]
    operation: OperationRef | None
