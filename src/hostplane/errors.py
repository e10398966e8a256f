"""Error kinds the whole system understands.

A provider raises TemporaryError (retry with backoff) or PermanentError (stop,
compensate, mark FAILED), with the external system's answer attached. The API
maps the validation and conflict kinds to 4xx answers.
"""

from __future__ import annotations


class HostplaneError(Exception):
    """Base of every error Hostplane raises on purpose."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __reduce__(self) -> tuple[object, ...]:
        # Durable workflows store a failed step's exception and raise it again on replay.
        return (self.__class__, (self.message,), {"detail": self.detail})

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message} ({self.detail})"
        return self.message


class ValidationError(HostplaneError):
    """Input that can never be accepted as it is; the message says what to fix."""


class NotFoundError(HostplaneError):
    """The named object does not exist."""


class ConflictError(HostplaneError):
    """The request collides with the current state (a running operation, a taken name)."""


class StaleWriteError(ConflictError):
    """A write named a version that is no longer current."""


class IllegalTransitionError(HostplaneError):
    """A status change that the lifecycle table does not allow."""


class ProviderError(HostplaneError):
    """A real system refused or failed; `detail` carries its answer."""


class TemporaryError(ProviderError):
    """Worth retrying: the system may accept the same request later."""


class PermanentError(ProviderError):
    """Retrying the same request will fail again; compensate and mark FAILED."""


class ForeignResourceError(ConflictError, PermanentError):
    """An external resource that another control plane, or nobody, made: it is never adopted,
    changed or removed. A conflict for the API (409); for a workflow, permanent: the operation
    stops and compensates instead of retrying. The message names the resource and its owner."""
