"""Schemathesis against a real control plane's own OpenAPI schema: whatever it sends, the API
answers without a server error and within its schema (documented status codes, content types
and bodies), and every JSON error carries a message."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.harness import ControlPlane

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # The schema says what the API accepts: valid data is never refused (422), invalid data
    # never accepted.
    positive_data_acceptance,
    negative_data_rejection,
)
# A domain to add is checked beyond what JSON Schema can say (IDNA and UTS #46 mapping,
# punycode that decodes, one script per label), and so is a tenant's SSH key (its blob must
# decode to a key of its algorithm): their schema publishes the syntax, and a body that passes
# it but not those rules is refused with 422 saying why. Every other operation is held to
# positive_data_acceptance too.
SEMANTIC_BODIES = frozenset(
    {
        "POST /v1/sites/{name}/domains",
        "POST /v1/tenants/{name}/ssh-keys",
        # A zone's name: a domain's rules (IDNA, labels, not under the base domain). A record:
        # its content's syntax per type, its name inside the zone, CNAME exclusivity.
        "POST /v1/zones",
        "PUT /v1/zones/{zone}/records/{name}/{rtype}",
        "DELETE /v1/zones/{zone}/records/{name}/{rtype}",
        # A cache's memory_mb is bounded by the plane's HOSTPLANE_CACHE_MAX_MEMORY_MB, and its
        # socket's path (in its tenant's home) must fit a unix socket's 107 bytes.
        "POST /v1/tenants/{tenant}/caches",
        # A database user's own password: checked for strength (kinds of characters, not the
        # user's name); a change must change something, and not both rotate and set it.
        "POST /v1/databases/{database}/users",
        "PUT /v1/databases/{database}/users/{user}",
    }
)


def test_no_generated_request_gives_a_server_error(tmp_path):
    cp = ControlPlane(tmp_path / "data").start()
    try:
        schema = schemathesis.openapi.from_url(f"{cp.api_url}/openapi.json")
        headers = {"Authorization": f"Bearer {cp.token}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        calls = 0
        for operation, mode in [(op, m) for op in operations for m in schemathesis.GenerationMode]:
            checks = list(CHECKS)
            if operation.label in SEMANTIC_BODIES:
                checks.remove(positive_data_acceptance)

            @settings(
                max_examples=20,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(operation.as_strategy(generation_mode=mode))
            def fuzz(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=cp.api_url, headers=headers)
                case.validate_response(response, checks=checks)  # noqa: B023 (run in the loop)
                if response.status_code >= 400 and "json" in response.headers.get(
                    "content-type", ""
                ):
                    assert response.json().get("message"), response.text

            try:
                fuzz()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid request to make.
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        assert calls >= len(operations) * 20  # valid and invalid requests were sent
    finally:
        cp.stop()
        cp.clean_host()
