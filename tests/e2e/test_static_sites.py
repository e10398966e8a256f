"""Static sites end to end through a real control plane and a real Caddy: the public contract."""

from __future__ import annotations

import contextlib
import json
import uuid

import httpx

from tests.e2e.harness import ControlPlane


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _create(cp: ControlPlane, name: str, **extra: str) -> dict:
    with cp.api() as api:
        r = api.post("/v1/sites", json={"name": name, "type": "static", **extra})
    assert r.status_code == 202, r.text
    return r.json()


def test_create_serves_the_site_through_caddy_and_destroy_leaves_no_trace(control_plane):
    cp = control_plane
    name = _name("hello")
    accepted = _create(cp, name)
    op_url = accepted["operation"]["url"]
    assert op_url.endswith(f"/v1/operations/{accepted['operation']['id']}")

    op = cp.wait_operation(accepted["operation"]["id"])
    assert op["status"] == "SUCCEEDED", op
    steps = [s["name"] for s in op["steps"] if s["phase"] == "apply"]
    assert steps == ["files", "edge", "confirm"]
    assert all(s["elapsed_ms"] is not None and s["status"] == "succeeded" for s in op["steps"])

    page = cp.edge_get(f"{name}.localhost")
    assert page.status_code == 200
    assert f"<h1>{name}</h1>" in page.text
    webroot = cp.site_dir(name)  # in the home of the tenant made for it
    assert (webroot / "public" / "index.html").is_file()
    assert any(name in i for i in cp.edge_route_ids())

    with cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
        assert site["status"] == "ACTIVE"
        assert [e["to_status"] for e in site["events"]] == ["ACTIVE", "PROVISIONING", "CREATED"]
        r = api.delete(f"/v1/sites/{name}")
    assert r.status_code == 202, r.text
    op = cp.wait_operation(r.json()["operation"]["id"])
    assert op["status"] == "SUCCEEDED", op

    assert cp.edge_get(f"{name}.localhost").status_code == 404
    assert not webroot.exists()
    assert not any(name in i for i in cp.edge_route_ids())
    with cp.api() as api:
        site = api.get(f"/v1/sites/{name}").json()
        assert site["status"] == "DESTROYED"
        audit = api.get("/v1/audit", params={"target": name}).json()["items"]
    # Newest first: the request was allowed, then the destruction was carried out.
    assert [(a["action"], a["decision"]) for a in audit] == [
        ("site.destroyed", "allowed"),
        ("site.destroy", "allowed"),
    ]
    assert all(a["actor"].startswith("token:") for a in audit)


def test_unknown_host_gets_404_from_the_edge(control_plane):
    r = control_plane.edge_get("nobody-here.localhost")
    assert r.status_code == 404
    assert r.text  # an explicit answer, not an empty 200


def test_idempotency_key_replays_the_first_operation_and_refuses_a_different_body(control_plane):
    cp = control_plane
    name = _name("idem")
    key = uuid.uuid4().hex
    with cp.api() as api:
        first = api.post("/v1/sites", json={"name": name}, headers={"Idempotency-Key": key})
        again = api.post("/v1/sites", json={"name": name}, headers={"Idempotency-Key": key})
        other = api.post(
            "/v1/sites", json={"name": _name("other")}, headers={"Idempotency-Key": key}
        )
    assert first.status_code == 202 and again.status_code == 202
    assert again.json()["operation"]["id"] == first.json()["operation"]["id"]
    assert other.status_code == 409  # the key is taken by another request
    assert "Idempotency-Key" in other.json()["message"]
    assert cp.wait_operation(first.json()["operation"]["id"])["status"] == "SUCCEEDED"


def test_a_second_create_of_a_live_name_is_a_conflict(control_plane):
    cp = control_plane
    name = _name("twice")
    op = _create(cp, name)["operation"]
    with cp.api() as api:
        r = api.post("/v1/sites", json={"name": name})
    assert r.status_code == 409
    assert name in r.json()["message"]
    cp.wait_operation(op["id"])


def test_every_endpoint_but_healthz_needs_the_token(control_plane):
    cp = control_plane
    assert httpx.get(f"{cp.api_url}/healthz").status_code == 200
    for method, path in [
        ("GET", "/v1/sites"),
        ("POST", "/v1/sites"),
        ("GET", "/metrics"),
        ("GET", "/v1/audit"),
        ("DELETE", "/v1/sites/x"),
        ("POST", "/v1/edge/regenerate"),
        ("GET", "/v1/operations/x"),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
            r = httpx.request(method, f"{cp.api_url}{path}", headers=headers)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["message"]


def test_bad_input_is_a_4xx_with_a_message_never_a_5xx(control_plane):
    cp = control_plane
    bad_bodies = [
        {"name": "Upper"},
        {"name": "-lead"},
        {"name": "trail-"},
        {"name": "a" * 64},
        {"name": "ok", "type": "cobol"},
        {"name": "ok", "runtime": "vm"},
        {"name": ""},
        {"name": "www"},
        {"name": "ok", "unexpected": 1},
        {"name": 5},
        {},
        {"name": "ok", "admin_email": "x@example.com"},
        {"name": "ok", "admin_email": "nope"},
    ]
    with cp.api() as api:
        for body in bad_bodies:
            r = api.post("/v1/sites", json=body)
            assert r.status_code == 422, (body, r.status_code, r.text)
            assert r.json()["message"], body
        r = api.post(
            "/v1/sites", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422
        for path in ["/v1/sites/UPPER", "/v1/sites/no-such-site", "/v1/operations/nope"]:
            r = api.get(path)
            assert r.status_code in (404, 422), (path, r.status_code)
        assert api.get("/v1/sites", params={"status": "SLEEPING"}).status_code == 422
        assert api.get("/v1/sites", params={"limit": 0}).status_code == 422
        assert api.delete("/v1/sites/no-such-site").status_code == 404
        assert api.post("/v1/sites/no-such-site/retry").status_code == 404
        assert api.get("/openapi.json").status_code == 200
        assert api.get("/docs").status_code == 200


def test_bodies_take_their_declared_types_only_and_errors_say_what_to_fix(control_plane):
    with control_plane.api() as api:
        for body in ({"prune": 0}, {"dry_run": "true"}, {"prune": None}):
            r = api.post("/v1/reconcile", json=body)
            assert r.status_code == 422, (body, r.text)
        r = api.post(
            "/v1/sites", json={"name": "wp", "type": "wordpress", "admin_email": 'a"<b>@x.y'}
        )
        assert r.status_code == 422
        assert "admin_email: must be an email WordPress accepts" in r.json()["message"]
        r = api.post("/v1/sites", json={"name": "www"})
        assert "name: must be a DNS label" in r.json()["message"]
        schema = api.get("/openapi.json").json()
        bodies = schema["components"]["schemas"]
        assert bodies["PlainSiteCreate"]["properties"]["name"]["pattern"]
        assert "admin_email" not in bodies["PlainSiteCreate"]["properties"]  # WordPress's only
        email = bodies["WordPressSiteCreate"]["properties"]["admin_email"]
        assert email["anyOf"][0]["pattern"]


def test_refused_destroy_is_audited(control_plane):
    cp = control_plane
    with cp.api() as api:
        r = api.delete("/v1/sites/ghost-site")
        assert r.status_code == 404
        audit = api.get("/v1/audit", params={"target": "ghost-site"}).json()["items"]
    assert audit and audit[0]["decision"] == "refused"
    assert "ghost-site" in audit[0]["reason"]


def test_list_is_paginated_and_filtered(control_plane):
    cp = control_plane
    names = sorted(_name("page") for _ in range(3))
    ops = [_create(cp, n)["operation"]["id"] for n in names]
    for op in ops:
        cp.wait_operation(op)
    seen: list[str] = []
    with cp.api() as api:
        after = None
        while True:
            params = {"limit": 2, "status": "ACTIVE", **({"after": after} if after else {})}
            page = api.get("/v1/sites", params=params).json()
            assert len(page["items"]) <= 2
            assert all(i["status"] == "ACTIVE" for i in page["items"])
            seen += [i["name"] for i in page["items"]]
            after = page["next"]
            if not after:
                break
    assert set(names) <= set(seen)
    assert len(seen) == len(set(seen))


def test_regenerate_rebuilds_the_edge_from_the_database_alone(control_plane):
    cp = control_plane
    name = _name("regen")
    cp.wait_operation(_create(cp, name)["operation"]["id"])
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    # Wipe Caddy's routes behind the control plane's back, and HAProxy's host map in front of
    # it when there is one.
    empty = {"admin": cp.caddy_config()["admin"], "apps": {}}
    with cp.caddy_admin() as admin:
        assert admin.post("/load", json=empty).status_code == 200
    if cp.front == "haproxy":
        hosts = cp.host_map()
        assert hosts.call(f"clear map {hosts.map_path}").strip() == ""
        assert hosts.observe() == {}
    with contextlib.suppress(httpx.ConnectError):  # no HTTP server at all is wiped too
        assert cp.edge_get(f"{name}.localhost").status_code != 200

    result = cp.cli("regenerate", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    assert cp.edge_get("nobody.localhost").status_code == 404


def test_cli_create_show_list_destroy(control_plane):
    cp = control_plane
    name = _name("cli")
    created = cp.cli("site", "create", name, "--type", "static", "--wait")
    assert created.returncode == 0, created.stdout + created.stderr
    assert cp.edge_get(f"{name}.localhost").status_code == 200

    shown = cp.cli("site", "show", name, "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert {"name", "type", "status", "domains", "last_error"} <= detail.keys()
    assert (detail["name"], detail["type"], detail["status"]) == (name, "static", "ACTIVE")

    listed = json.loads(cp.cli("site", "list", "--json").stdout)
    assert name in {s["name"] for s in listed}

    again = cp.cli("site", "create", name, "--wait")
    assert again.returncode != 0
    assert "already exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1

    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    gone = json.loads(cp.cli("site", "show", name, "--json").stdout)
    assert gone["status"] == "DESTROYED"

    audit = json.loads(cp.cli("audit", "--json", "--target", name).stdout)
    assert any(a["action"] == "site.destroy" for a in audit)

    op = cp.cli("op", "show", "no-such-op")
    assert op.returncode != 0 and op.stderr.strip()


def test_metrics_are_prometheus_text_and_count_every_kind(control_plane):
    cp = control_plane
    assert cp.cli("site", "create", "counted", "--wait").returncode == 0
    with cp.api() as api:
        r = api.get("/metrics")
        sites = api.get("/v1/sites", params={"status": "ACTIVE", "limit": 500}).json()["items"]
    assert r.status_code == 200
    line = f'hostplane_resources{{kind="site",status="ACTIVE"}} {float(len(sites))}'
    assert line in r.text.splitlines()
