"""The cloudflared ingress file (pure): whole, sorted, catch-all last, and the schema check
that stands in for `cloudflared tunnel ingress validate` where the binary is absent."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.kinds.domain.model import normalize_domain
from hostplane.providers.cloudflared.ingress import (
    CATCH_ALL,
    IngressSettings,
    check_ingress,
    render_ingress,
)

SETTINGS = IngressSettings(
    "6ff42ae2-765d-4adf-8112-31c55c1551ef", "/etc/cf/t.json", "http://127.0.0.1:80"
)


def _accepted(raw: str) -> str | None:
    try:
        return normalize_domain(raw, base_domain="hosting.example.net")
    except ValidationError:
        return None


@given(st.lists(st.text(min_size=1, max_size=40), max_size=8))
def test_any_accepted_domains_render_a_file_that_reads_back_the_same(raws):
    hosts = [h for h in (_accepted(r) for r in raws) if h]
    text = render_ingress(SETTINGS, hosts)
    assert check_ingress(text) == sorted(set(hosts))
    rules = yaml.safe_load(text)["ingress"]
    assert rules[-1] == {"service": CATCH_ALL}
    assert render_ingress(SETTINGS, list(reversed(hosts))) == text  # stable order


def test_an_empty_tunnel_still_has_its_catch_all():
    document = yaml.safe_load(render_ingress(SETTINGS, []))
    assert document == {
        "tunnel": SETTINGS.tunnel_id,
        "credentials-file": SETTINGS.credentials_file,
        "ingress": [{"service": CATCH_ALL}],
    }


def _doc(*rules: dict[str, object]) -> str:
    return yaml.safe_dump({"tunnel": "t", "credentials-file": "/c.json", "ingress": list(rules)})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tunnel: [", "not YAML"),
        (_doc(), "non-empty 'ingress'"),
        (_doc({"hostname": "a.org", "service": "http://x:1"}), "last ingress rule must match"),
        (
            _doc({"service": CATCH_ALL}, {"hostname": "a.org", "service": "http://x:1"}),
            "needs a hostname",
        ),
        (
            _doc(
                {"hostname": "a.org", "service": "http://x:1"},
                {"hostname": "a.org", "service": "http://x:1"},
                {"service": CATCH_ALL},
            ),
            "two ingress rules",
        ),
        (_doc({"hostname": "a.org", "service": "ftp://x"}, {"service": CATCH_ALL}), "service"),
        (_doc({"hostname": "A.org", "service": "http://x:1"}, {"service": CATCH_ALL}), "canonical"),
        (
            _doc({"hostname": "a.org", "service": "http://x:1", "x": 1}, {"service": CATCH_ALL}),
            "unknown",
        ),
        (yaml.safe_dump({"ingress": [{"service": CATCH_ALL}]}), "'tunnel'"),
    ],
)
def test_the_schema_check_refuses_what_cloudflared_would(text, problem):
    with pytest.raises(ValidationError, match=problem):
        check_ingress(text)
