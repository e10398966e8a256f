"""PowerDNS's answers mapped to the kernel's errors (providers/powerdns/client.py), and where
to ask a server bound to a wildcard address (dnsprobe.py)."""

from __future__ import annotations

import httpx
import pytest

from hostplane.errors import PermanentError, TemporaryError
from hostplane.providers.powerdns.client import answer, refusal, server_url
from hostplane.providers.powerdns.dnsprobe import reachable_address

URL = "http://127.0.0.1:8081/api/v1/servers/localhost"


def _response(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("PATCH", f"{URL}/zones/example.com.")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


def test_a_refused_change_set_is_permanent_and_carries_powerdns_message():
    error = refusal(_response(422, {"error": "RRset x. IN A: Name is out of zone"}), "a PATCH", URL)
    assert type(error) is PermanentError
    assert error.detail == "RRset x. IN A: Name is out of zone"
    assert "refused a PATCH (HTTP 422): RRset x. IN A: Name is out of zone" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_failing_server_is_temporary(status):
    error = refusal(_response(status, text="Internal Server Error"), "a PATCH", URL)
    assert isinstance(error, TemporaryError) and error.detail == "Internal Server Error"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_says_which_setting_to_fix(status):
    error = refusal(_response(status, text="Unauthorized"), "listing zones", URL)
    assert type(error) is PermanentError and "HOSTPLANE_PDNS_API_KEY" in str(error)


def test_the_answer_is_the_error_field_or_the_body():
    assert answer(_response(409, text="Conflict")) == "Conflict"
    assert answer(_response(422, {"error": "bad"})) == "bad"
    assert answer(_response(400, ["unexpected"])) == '["unexpected"]'


def test_the_api_root_from_a_base_url_or_the_root_itself():
    assert server_url("http://127.0.0.1:8081/") == URL
    assert server_url(URL) == URL
    with pytest.raises(ValueError, match="http://"):
        server_url("127.0.0.1:8081")


def test_a_wildcard_bind_is_asked_through_loopback():
    assert reachable_address("0.0.0.0") == "127.0.0.1"
    assert reachable_address("::") == "::1"
    assert reachable_address("192.0.2.7") == "192.0.2.7"
