"""What the fault tests share: the control planes a test made, stopped and cleaned after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import ControlPlane


@pytest.fixture
def stop() -> Iterator[list[ControlPlane]]:
    """A test appends each control plane it starts; each is stopped (with its edge, PowerDNS
    and sshd) and its host cleaned when the test ends."""
    planes: list[ControlPlane] = []
    yield planes
    for cp in planes:
        cp.stop()
        cp.clean_host()
