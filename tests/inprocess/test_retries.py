"""A TemporaryError is retried per the step's RetryPolicy; any other error is not.

Providers are fakes: this tier tests the kernel's retries (kernel.steps)."""

from __future__ import annotations

import dataclasses
import time
import types

import pytest

from hostplane.errors import TemporaryError
from hostplane.kernel import steps as kernel_steps
from hostplane.kernel.kind import Registry
from hostplane.kernel.steps import RetryPolicy
from hostplane.registry import registry
from tests.inprocess.helpers import create_site
from tests.inprocess.plane import Plane

TINY = RetryPolicy(attempts=3, backoff=0.001)


@pytest.fixture
def kinds() -> Registry:
    """The real kinds, the site's app step with a policy of 3 attempts 1 ms apart."""
    real = registry()
    site = real.kind("site")
    steps = tuple(dataclasses.replace(s, retry=TINY) if s.name == "app" else s for s in site.steps)
    return Registry(
        [dataclasses.replace(site, steps=steps) if k is site else k for k in real.kinds]
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry delays the kernel waited, and only noted: the test does not wait them."""
    waited: list[float] = []
    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=waited.append)
    monkeypatch.setattr(kernel_steps, "time", clock)
    return waited


def busy() -> TemporaryError:
    return TemporaryError("the runtime is busy", detail="try again")


def test_a_temporary_error_is_retried_with_the_default_backoff_then_succeeds(
    plane: Plane, sleeps: list[float]
):
    """Providers are fakes. The files step (the default policy: 5 attempts, 0.5 s doubling)
    fails twice with a TemporaryError: it is called again after 0.5 s and 1 s, succeeds
    the third time, and the step has one record, succeeded."""
    plane.world.journal.fail("runtime.ensure_files", busy, times=2)
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "SUCCEEDED"
    assert plane.world.journal.count("runtime.ensure_files") == 3
    assert sleeps == [0.5, 1.0]
    assert plane.steps(sub.operation_id)[0] == ("files", "apply", "succeeded", "created")
    assert plane.site("shop").status == "ACTIVE"


def test_a_step_gives_up_after_its_own_policy_s_attempts(plane: Plane):
    """Providers are fakes. The app step's policy (3 attempts) is the one applied: after
    three TemporaryErrors the step fails, the started steps are undone, and the error is
    the provider's."""
    plane.world.journal.fail("runtime.ensure_app", busy, times=None)
    sub = create_site(plane.services).submitted
    started = time.monotonic()
    assert plane.run(sub) == "FAILED"
    assert time.monotonic() - started < 2  # 1 ms + 2 ms of backoff, not 0.5 s + 1 s
    journal = plane.world.journal
    assert journal.count("runtime.ensure_app") == 3
    assert journal.names("runtime.remove") == ["runtime.remove_app", "runtime.remove_files"]
    assert plane.operation(sub.operation_id).error == "the runtime is busy (try again)"
    assert plane.site("shop").status == "FAILED"


def test_a_temporary_error_that_clears_within_the_policy_is_invisible(plane: Plane):
    """Providers are fakes. Two TemporaryErrors, then success, within 3 attempts: ACTIVE,
    the app step recorded once, created."""
    plane.world.journal.fail("runtime.ensure_app", busy, times=2)
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "SUCCEEDED"
    assert plane.world.journal.count("runtime.ensure_app") == 3
    assert [s for s in plane.steps(sub.operation_id) if s[0] == "app"] == [
        ("app", "apply", "succeeded", "created")
    ]
