"""hostctl apply's file: checked against the kinds' sections, every problem with its line."""

from __future__ import annotations

import textwrap

import pytest

from hostplane.cli.apply import sections
from hostplane.cli.declare import Field, Section, check_sections
from hostplane.cli.seedfile import parse

SEED = """\
plans:
  - {name: small, sites: 2, databases: 1, caches: 0, disk_mb: 500, php_workers: 2, zones: 2,
      cache_memory_mb: 64}
tenants:
  - name: acme
    plan: small
    sites:
      - name: shop
        type: php
        domains: [www.acme.test, {name: shop.acme.test}]
      - name: blog
  - name: beta
"""


def problems(text: str) -> list[str]:
    return [f"{p.line}: {p.message}" for p in parse(textwrap.dedent(text), sections()).problems]


def test_a_good_file_gives_its_items_with_defaults_lines_and_parents():
    doc = parse(SEED, sections())
    assert doc.problems == []
    by_label = {i.label: i for i in doc.items}
    assert sorted(by_label) == [
        "domain shop.acme.test",
        "domain www.acme.test",
        "plan small",
        "site blog",
        "site shop",
        "tenant acme",
        "tenant beta",
    ]
    blog, shop = by_label["site blog"], by_label["site shop"]
    assert (blog.value("type"), blog.line, blog.given) == ("static", 11, frozenset({"name"}))
    assert shop.value("runtime") is None and shop.parent is by_label["tenant acme"]
    assert by_label["domain www.acme.test"].parent is shop
    assert by_label["domain www.acme.test"].line == 10
    assert by_label["tenant beta"].value("plan") is None
    assert by_label["plan small"].values["php_workers"] == 2
    assert by_label["plan small"].values["cache_memory_mb"] == 64


@pytest.mark.parametrize("text", ["", "# only a comment\n", "plans:\ntenants: []\n"])
def test_an_empty_file_or_empty_sections_describe_nothing(text):
    doc = parse(text, sections())
    assert (doc.items, doc.problems) == ([], [])


def test_unknown_keys_are_errors_with_their_line_and_the_known_keys():
    assert problems(
        """\
        tenantz: []
        tenants:
          - name: acme
            sitez: []
            sites:
              - name: shop
                colour: red
                domains:
                  - {name: www.acme.test, ttl: 3}
        """
    ) == [
        "1: unknown key 'tenantz' at the top (known: plans, tenants)",
        "4: unknown key 'sitez' in tenant acme (known: name, plan, sites, zones)",
        "7: unknown key 'colour' in site shop (known: name, type, runtime, domains)",
        "9: unknown key 'ttl' in domain www.acme.test (known: name)",
    ]


def test_wrong_types_values_and_shapes_are_errors_with_their_line():
    assert problems(
        """\
        plans:
          - {name: p, sites: two, databases: true, caches: -1, disk_mb: 1, php_workers: 0, zones: 1,
             cache_memory_mb: 1}
        tenants:
          - name: no
          - name: Acme
          - name: ok
            plan: [a]
            sites: {name: shop}
          - name: ok2
            sites:
              - name: s1
                type: java
                runtime: 3
              - just-a-name
        """
    ) == [
        "2: plan p: sites must be an integer, not 'two'",
        "2: plan p: databases must be an integer, not true",
        "2: plan p: caches must be at least 0, not -1",
        "2: plan p: php_workers must be at least 1, not 0",
        "5: item 1 of tenants: name must be a string, not false (quote it: 'no')",
        "6: tenant Acme: tenant name 'Acme' has uppercase letters: use lowercase",
        "8: tenant ok: plan must be a string, not a list",
        "9: sites of tenant ok must be a list, not a mapping",
        "13: site s1: type must be one of static, php, wordpress, not 'java'",
        "14: site s1: runtime must be a string, not 3",
        "15: item 2 of sites of tenant ok2 must be a mapping, not 'just-a-name'",
    ]


def test_missing_keys_duplicates_and_bad_domains():
    assert problems(
        """\
        plans:
          - {name: p, sites: 1}
        tenants:
          - name: a
            name: b
          - plan: p
          - name: c
            sites:
              - name: shop
                domains: ["not a domain", x.test]
          - name: a
        """
    ) == [
        "2: plan p: missing key 'databases'",
        "2: plan p: missing key 'caches'",
        "2: plan p: missing key 'disk_mb'",
        "2: plan p: missing key 'php_workers'",
        "2: plan p: missing key 'zones'",
        "2: plan p: missing key 'cache_memory_mb'",
        "5: duplicate key 'name' in item 1 of tenants (first at line 4)",
        "6: item 2 of tenants: missing key 'name'",
        "10: domain not a domain: 'not a domain' is not a domain name: only letters, digits, "
        "hyphens and dots are allowed (no scheme, port, path, wildcard or spaces)",
        "11: tenant a is already at line 4",
    ]


def test_a_broken_parents_children_are_still_checked():
    assert problems(
        """\
        tenants:
          - name: acme
            plan: 3
            sites:
              - {name: shop, sort: 1}
        """
    ) == [
        "3: tenant acme: plan must be a string, not 3 (quote it: '3')",
        "5: unknown key 'sort' in site shop (known: name, type, runtime, domains)",
    ]


@pytest.mark.parametrize(
    ("text", "line", "start"),
    [
        ("tenants:\n  - name: a\n   bad: indent\n", 3, "not YAML: "),
        ("- a\n- b\n", 1, "the file must be a mapping of sections (plans, tenants), not a list"),
        ("tenants: [\n", 2, "not YAML: "),
    ],
)
def test_what_is_not_a_seed_file_says_where(text, line, start):
    [problem] = parse(text, sections()).problems
    assert problem.line == line and problem.message.startswith(start), problem


def test_every_kinds_sections_are_found_through_the_registry_parents_first():
    found = sections()
    assert [(s.key, s.parent) for s in found] == [
        ("plans", None),
        ("tenants", None),
        ("sites", "tenants"),
        ("domains", "sites"),
        ("zones", "tenants"),
    ]


def _section(key: str, parent: str | None) -> Section:
    return Section(key, key, (Field("name"),), lambda g, i: None, lambda i, c: [], parent)


def test_a_section_under_an_unknown_or_later_section_is_refused():
    with pytest.raises(ValueError, match="nests under 'zones'"):
        check_sections([_section("records", "zones"), _section("zones", None)])
    with pytest.raises(ValueError, match="declared twice"):
        check_sections([_section("zones", None), _section("zones", None)])


def test_a_later_kinds_section_is_one_more_entry():
    """What a kind that comes later does: declare its section, nested under a tenant."""
    databases = Section(
        key="databases",
        noun="database",
        fields=(Field("name", required=True), Field("ttl", int, default=3600, minimum=60)),
        observe=lambda get, item: None,
        diff=lambda item, current: [],
        parent="tenants",
    )
    text = "tenants:\n  - name: acme\n    databases:\n      - {name: acme.test, ttl: 5}\n"
    assert [p.message for p in parse(text, [*sections(), databases]).problems] == [
        "database acme.test: ttl must be at least 60, not 5"
    ]
    assert parse(text, sections()).problems[0].message.startswith("unknown key 'databases'")
