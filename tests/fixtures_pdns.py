"""PowerDNS fixtures (tests/services_pdns.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services_pdns import PrivatePowerDNS


@pytest.fixture(scope="session")
def powerdns() -> Iterator[PrivatePowerDNS]:
    server = PrivatePowerDNS().start()
    try:
        yield server
    finally:
        server.stop()
