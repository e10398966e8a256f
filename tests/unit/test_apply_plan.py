"""hostctl apply's plan: the file against the current state (as the API shows it), pure."""

from __future__ import annotations

from typing import Any

from hostplane.cli.apply import sections
from hostplane.cli.declare import Item, plan
from hostplane.cli.seedfile import parse

SEED = """\
tenants:
  - name: acme
    plan: small
    sites:
      - name: shop
        domains: [www.acme.test]
      - {name: blog, type: php, runtime: local}
  - name: beta
    sites:
      - name: beta-home
plans:
  - {name: small, sites: 2, databases: 1, caches: 0, disk_mb: 500, php_workers: 2, zones: 2,
      cache_memory_mb: 64}
"""
PLAN = {"name": "small", "sites": 2, "databases": 1, "caches": 0, "disk_mb": 500}
PLAN |= {"php_workers": 2, "zones": 2, "cache_memory_mb": 64, "tenants": 1}


def tenant(name: str, plan: str = "small", status: str = "ACTIVE") -> dict[str, Any]:
    return {"name": name, "plan": plan, "status": status, "last_error": None}


def site(name: str, tenant: str, **over: Any) -> dict[str, Any]:
    view = {"name": name, "tenant": tenant, "type": "static", "runtime": "local"}
    return view | {"status": "ACTIVE", "last_error": None, "domains": []} | over


def domain(name: str, status: str = "PENDING") -> dict[str, Any]:
    return {"name": name, "display": name, "status": status, "last_error": None}


# Everything the file says, as it is once applied.
APPLIED: dict[str, dict[str, Any] | None] = {
    "plan small": PLAN,
    "tenant acme": tenant("acme"),
    "tenant beta": tenant("beta", plan="default"),
    "site shop": site("shop", "acme", domains=[domain("www.acme.test")]),
    "site blog": site("blog", "acme", type="php"),
    "site beta-home": site("beta-home", "beta"),
    "domain www.acme.test": domain("www.acme.test"),
}


def diff(
    state: dict[str, dict[str, Any] | None] | None = None, text: str = SEED
) -> tuple[list[str], list[str], list[Any]]:
    """The plan's summaries, its problems and its actions, with `state` (by label) over the
    applied state."""
    doc = parse(text, sections())
    assert doc.problems == []
    now = APPLIED | (state or {})
    current: dict[Item, Any] = {i: now.get(i.label) for i in doc.items}
    actions, problems = plan(doc.items, current, sections())
    return [a.summary for a in actions], [f"{p.line}: {p.message}" for p in problems], actions


def test_applied_state_means_nothing_to_change():
    assert diff()[:2] == ([], [])


def test_from_nothing_everything_is_created_in_dependency_order():
    summaries, problems, actions = diff(dict.fromkeys(APPLIED))
    assert problems == []
    assert summaries == [
        "create plan small",
        "create tenant acme on plan small",
        "create tenant beta",
        "create site shop (static, tenant acme)",
        "create site blog (php, tenant acme)",
        "create site beta-home (static, tenant beta)",
        "add domain www.acme.test to site shop",
    ]
    requests = [(a.method, a.path, a.body, a.follow, a.expect) for a in actions]
    limits = {k: v for k, v in PLAN.items() if k != "tenants"}
    acme, beta = {"name": "acme", "plan": "small"}, {"name": "beta", "plan": None}
    assert requests == [
        ("POST", "/v1/plans", limits, False, None),
        ("POST", "/v1/tenants", acme, True, ("/v1/tenants/acme", "ACTIVE")),
        ("POST", "/v1/tenants", beta, True, ("/v1/tenants/beta", "ACTIVE")),
        (
            "POST",
            "/v1/sites",
            {"name": "shop", "tenant": "acme", "type": "static"},
            True,
            ("/v1/sites/shop", "ACTIVE"),
        ),
        (
            "POST",
            "/v1/sites",
            {"name": "blog", "tenant": "acme", "type": "php", "runtime": "local"},
            True,
            ("/v1/sites/blog", "ACTIVE"),
        ),
        (
            "POST",
            "/v1/sites",
            {"name": "beta-home", "tenant": "beta", "type": "static"},
            True,
            ("/v1/sites/beta-home", "ACTIVE"),
        ),
        # Not followed: the domain waits for its DNS, maybe for hours.
        ("POST", "/v1/sites/shop/domains", {"domain": "www.acme.test"}, False, None),
    ]
    assert [a.line for a in actions] == [12, 2, 8, 5, 7, 10, 6]


def test_only_what_is_missing_is_created():
    assert diff({"site blog": None, "domain www.acme.test": None})[:2] == (
        ["create site blog (php, tenant acme)", "add domain www.acme.test to site shop"],
        [],
    )


def test_a_changed_plan_is_updated_with_what_changed():
    summaries, problems, actions = diff({"plan small": PLAN | {"sites": 3, "disk_mb": 100}})
    assert (summaries, problems) == (["update plan small: sites 3 -> 2, disk_mb 100 -> 500"], [])
    assert (actions[0].method, actions[0].path, actions[0].body["sites"]) == (
        "PUT",
        "/v1/plans/small",
        2,
    )


def test_a_tenant_on_another_plan_is_moved_and_one_without_a_plan_in_the_file_is_left():
    summaries, problems, actions = diff({"tenant acme": tenant("acme", plan="default")})
    assert (summaries, problems) == (["update tenant acme: plan default -> small"], [])
    assert (actions[0].method, actions[0].path, actions[0].body) == (
        "PUT",
        "/v1/tenants/acme/plan",
        {"plan": "small"},
    )
    assert diff({"tenant beta": tenant("beta", plan="big")})[:2] == ([], [])


def test_a_failed_domain_is_added_again_a_removing_one_waits():
    failed = domain("www.acme.test", "FAILED")
    assert diff(
        {"site shop": site("shop", "acme", domains=[failed]), "domain www.acme.test": failed}
    )[0] == ["add domain www.acme.test to site shop again (it FAILED: no error recorded)"]
    assert diff({"domain www.acme.test": domain("www.acme.test", "REMOVING")})[1] == [
        "6: domain www.acme.test: is being removed: apply again once it is gone"
    ]


def test_what_apply_cannot_change_is_an_error_never_a_silent_skip():
    summaries, problems, _ = diff(
        {
            "site blog": site("blog", "beta", type="wordpress", runtime="docker"),
            "site shop": site("shop", "acme", status="FAILED", last_error="boom"),
            "tenant beta": tenant("beta", status="PROVISIONING"),
            "plan small": PLAN | {"caches": 1},
        }
    )
    assert problems == [
        "5: site shop: is FAILED (boom): run hostctl site retry shop, then apply again",
        "7: site blog: belongs to tenant beta: apply does not move sites",
        "7: site blog: type wordpress -> php cannot be changed by apply (a new site of "
        "another type, or hostctl site destroy first)",
        "7: site blog: runtime docker -> local cannot be changed by apply (a new site of "
        "another runtime, or hostctl site destroy first)",
        "8: tenant beta: is PROVISIONING: apply again once its operation has ended",
    ]
    assert summaries == ["update plan small: caches 1 -> 0"]  # planned, never run: problems


def test_a_site_type_left_out_means_static_a_runtime_left_out_is_not_compared():
    text = "tenants:\n  - name: acme\n    sites:\n      - name: shop\n"
    assert diff({"site shop": site("shop", "acme", runtime="docker")}, text)[:2] == ([], [])
    assert diff({"site shop": site("shop", "acme", type="php")}, text)[1] == [
        "4: site shop: type php -> static cannot be changed by apply (a new site of another "
        "type, or hostctl site destroy first)"
    ]


def test_a_suspended_tenant_is_left_as_it_is():
    assert diff({"tenant acme": tenant("acme", status="SUSPENDED")})[:2] == ([], [])


def test_each_kind_observes_through_the_api_views():
    """What `observe` reads, given the API's answers (None: 404); a destroyed site is none."""
    text = SEED.replace("www.acme.test", "WWW.Bücher.test")
    doc = parse(text, sections())
    answers: dict[str, Any] = {
        "/v1/plans": {"items": [PLAN]},
        "/v1/tenants/acme": tenant("acme"),
        "/v1/sites/shop": site("shop", "acme", domains=[domain("www.xn--bcher-kva.test")]),
        "/v1/sites/blog": site("blog", "acme", status="DESTROYED"),
    }
    seen = {i.label: i.section.observe(answers.get, i) for i in doc.items}
    assert seen == {
        "plan small": PLAN,
        "tenant acme": answers["/v1/tenants/acme"],
        "tenant beta": None,
        "site shop": answers["/v1/sites/shop"],
        "site blog": None,
        "site beta-home": None,
        "domain WWW.Bücher.test": domain("www.xn--bcher-kva.test"),
    }


def test_a_problem_with_a_value_names_the_values_line():
    text = "tenants:\n  - name: acme\n    sites:\n      - name: shop\n\n        type: php\n"
    assert diff({"site shop": site("shop", "acme")}, text)[1] == [
        "6: site shop: type static -> php cannot be changed by apply (a new site of another "
        "type, or hostctl site destroy first)"
    ]
