"""hostctl apply on a real control plane: a seed file of a plan, two tenants with a static site
each and a domain on one; --dry-run changes nothing, apply makes it all, applying it again
changes nothing, a change to the plan is applied, what apply cannot change and an unknown key
stop it with the line named. The domain stays PENDING (its DNS never points here): apply
records its addition and does not wait for DNS."""

from __future__ import annotations

import json
import pwd
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ControlPlane, free_port

TAG = uuid.uuid4().hex[:5]
A, B = f"a{TAG}", f"b{TAG}"  # tenants
SITE_A, SITE_B = f"seed-{TAG}", f"other-{TAG}"
DOMAIN = f"www.seed-{TAG}.test"
SEED = f"""\
plans:
  - {{name: small, sites: 2, databases: 1, caches: 0, disk_mb: 500, php_workers: 2, zones: 2,
      cache_memory_mb: 64}}
tenants:
  - name: {A}
    plan: small
    sites:
      - name: {SITE_A}
        domains: [{DOMAIN}]
  - name: {B}
    sites:
      - name: {SITE_B}
        type: static
"""


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    dns_port = free_port()
    # Domains are checked against the plane's own PowerDNS, which hosts no zone of theirs:
    # they wait, PENDING, without a question to the internet.
    plane = ControlPlane(
        tmp_path_factory.mktemp("apply") / "data",
        dns_port=dns_port,
        extra_env={"HOSTPLANE_DNS_RESOLVERS": f"127.0.0.1:{dns_port}"},
    ).start()
    try:
        yield plane
    finally:
        for tenant in (A, B):  # when a test stopped before the last one deleted them
            plane.cli("tenant", "delete", tenant, "--cascade", "--wait", timeout=300)
        plane.stop()
        plane.clean_host()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "seed.yaml"
    path.write_text(SEED)
    return path


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def state(cp: ControlPlane) -> dict[str, object]:
    with cp.api() as api:
        return {
            "plans": {p["name"]: p["sites"] for p in api.get("/v1/plans").json()["items"]},
            "tenants": {
                t["name"]: (t["status"], t["plan"])
                for t in api.get("/v1/tenants").json()["items"]
                if t["name"] in (A, B)
            },
            "sites": {
                s["name"]: (s["status"], s["tenant"], s["type"])
                for s in api.get("/v1/sites").json()["items"]
            },
            "domains": {
                d["name"]: d["status"]
                for site in (SITE_A, SITE_B)
                if api.get(f"/v1/sites/{site}").status_code == 200
                for d in api.get(f"/v1/sites/{site}").json()["domains"]
            },
        }


def test_dry_run_prints_the_plan_and_changes_nothing(cp: ControlPlane, seed: Path):
    before = state(cp)
    out = ok(cp.cli("apply", "-f", str(seed), "--dry-run"))
    assert out.splitlines() == [
        "6 to change (dry run: nothing changed):",
        "  create plan small",
        f"  create tenant {A} on plan small",
        f"  create tenant {B}",
        f"  create site {SITE_A} (static, tenant {A})",
        f"  create site {SITE_B} (static, tenant {B})",
        f"  add domain {DOMAIN} to site {SITE_A}",
    ]
    as_json = json.loads(ok(cp.cli("apply", "-f", str(seed), "--dry-run", "--json")))
    assert as_json["dry_run"] is True and len(as_json["changes"]) == 6
    assert state(cp) == before


def test_apply_makes_everything_in_order(cp: ControlPlane, seed: Path):
    lines = ok(cp.cli("apply", "-f", str(seed), timeout=600)).splitlines()
    assert lines[:5] == [
        "create plan small: done",
        f"create tenant {A} on plan small: ACTIVE",
        f"create tenant {B}: ACTIVE",
        f"create site {SITE_A} (static, tenant {A}): ACTIVE",
        f"create site {SITE_B} (static, tenant {B}): ACTIVE",
    ]
    assert lines[5].startswith(f"add domain {DOMAIN} to site {SITE_A}: accepted, operation ")
    assert lines[6] == "6 changed"
    now = state(cp)
    assert now["plans"]["small"] == 2  # type: ignore[index]
    assert now["tenants"] == {A: ("ACTIVE", "small"), B: ("ACTIVE", "default")}
    assert now["sites"] == {SITE_A: ("ACTIVE", A, "static"), SITE_B: ("ACTIVE", B, "static")}
    assert now["domains"] == {DOMAIN: "PENDING"}  # waiting for DNS that never comes


def test_applying_the_same_file_again_changes_nothing(cp: ControlPlane, seed: Path):
    before = state(cp)
    assert ok(cp.cli("apply", "-f", str(seed))).strip() == "nothing to change"
    assert json.loads(ok(cp.cli("apply", "-f", str(seed), "--json"))) == {"changes": []}
    assert state(cp) == before


def test_a_changed_limit_is_applied_what_apply_cannot_change_stops_it(
    cp: ControlPlane, seed: Path, tmp_path: Path
):
    changed = tmp_path / "changed.yaml"
    changed.write_text(SEED.replace("sites: 2", "sites: 3"))
    out = ok(cp.cli("apply", "-f", str(changed)))
    assert out.splitlines() == ["update plan small: sites 2 -> 3: done", "1 changed"]
    assert state(cp)["plans"]["small"] == 3  # type: ignore[index]

    before = state(cp)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(SEED.replace("type: static", "type: php").replace("sites: 2", "sites: 1"))
    refused = cp.cli("apply", "-f", str(wrong))
    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: {wrong}:13: site {SITE_B}: type static -> php cannot be changed by apply "
        "(a new site of another type, or hostctl site destroy first)"
    )
    assert state(cp) == before  # the plan's change, planned too, was not made


def test_an_unknown_key_is_an_error_with_its_line(cp: ControlPlane, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEED.replace("    plan: small\n", "    plan: small\n    sitez: []\n"))
    refused = cp.cli("apply", "-f", str(bad))
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        f"error: {bad}:7: unknown key 'sitez' in tenant {A} (known: name, plan, sites, zones)"
    )


def test_what_apply_made_goes_with_its_tenants(cp: ControlPlane):
    for tenant in (A, B):
        ok(cp.cli("tenant", "delete", tenant, "--cascade", "--wait", timeout=300))
        with pytest.raises(KeyError):
            pwd.getpwnam(f"hp-{tenant}")
    assert state(cp)["sites"] == {}
