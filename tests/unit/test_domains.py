"""Domain validation (pure): nothing invalid accepted, nothing valid refused, no IDNA or case
trick passes as another domain, nothing that could break a generated config gets through."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.kinds.domain.model import (
    display_name,
    normalize_domain,
    probe_host,
    registrable_domain,
)

BASE = "hosting.example.net"
SAFE = re.compile(r"^[a-z0-9.-]+$")

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda s: not s.startswith("xn--") and s[2:4] != "--"
)
tld = st.from_regex(r"[a-z]{2,10}", fullmatch=True)
ascii_domains = st.builds(
    lambda ls, t: ".".join([*ls, t]), st.lists(label, min_size=1, max_size=4), tld
)


def norm(name: str) -> str:
    return normalize_domain(name, base_domain=BASE)


@given(ascii_domains)
def test_valid_ascii_domains_are_accepted_unchanged(name):
    assume(not name.endswith(BASE))
    assert norm(name) == name


@given(ascii_domains)
def test_case_and_a_trailing_dot_do_not_make_another_domain(name):
    assume(not name.endswith(BASE))
    assert norm(name.upper()) == norm(name + ".") == norm(f"  {name.title()}  ") == name


@given(st.text(min_size=1, max_size=80))
def test_whatever_is_accepted_is_safe_ascii_and_stable(raw):
    try:
        out = norm(raw)
    except ValidationError:
        return
    assert SAFE.fullmatch(out), out
    assert len(out) <= 253 and all(1 <= len(part) <= 63 for part in out.split("."))
    assert norm(out) == out  # normalizing twice changes nothing


@pytest.mark.parametrize(
    "raw",
    [
        "example.org\nabuse.org",
        "example.org;",
        "exa mple.org",
        "example.org}",
        "example.org{",
        'ex"ample.org',
        "ex'ample.org",
        "example.org#x",
        "*.co.uk",
        "*.github.io",
        "*.*.example.org",
        "a*.example.org",
        "www.*.example.org",
        "*example.org",
        f"*.{BASE}",
        "http://example.org",
        "example.org:80",
        "example.org/path",
        "user@example.org",
        "ex$ample.org",
        "ex`ample.org",
        "example.org\x00",
        "-example.org",
        "example-.org",
        "exa..mple.org",
        "localhost",
        "org",
        "a" * 64 + ".org",
        ".".join(["a" * 63] * 4) + ".org",
        "1.2.3.4",
        "::1",
        "[::1]",
        "10.0.0.1.",
        "example.123",
        "xn--zz.org",
        "",
        "   ",
        BASE,
        f"shop.{BASE}",
        f"a.b.{BASE.upper()}",
    ],
)
def test_invalid_or_dangerous_input_is_refused_with_a_message(raw):
    with pytest.raises(ValidationError) as info:
        norm(raw)
    assert str(info.value)


def test_a_wildcard_covers_names_one_label_under_a_domain_of_ones_own():
    assert norm("*.Example.ORG.") == "*.example.org"
    assert norm("*.shop.example.co.uk") == "*.shop.example.co.uk"
    assert registrable_domain("*.shop.example.co.uk") == "example.co.uk"
    assert probe_host("*.example.org") == "hostplane-probe.example.org"
    assert probe_host("www.example.org") == "www.example.org"


@pytest.mark.parametrize(
    ("unicode", "ascii_form"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008: ß is not folded to ss
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("example。org", "example.org"),  # ideographic full stop is a dot (UTS #46)
    ],
)
def test_idna_forms_are_one_domain(unicode, ascii_form):
    assert norm(unicode) == ascii_form
    assert norm(display_name(ascii_form)) == ascii_form


def test_a_lookalike_is_never_an_alias_of_the_name_it_imitates():
    # Cyrillic small a (U+0430) is not Latin a: it never normalizes onto example.org, and a
    # label mixing both scripts is refused outright.
    with pytest.raises(ValidationError, match="mixes scripts"):
        norm("ex\u0430mple.org")


@pytest.mark.parametrize(
    "mixed",
    ["\u0430pple.com", "xn--pple-43d.com", "p\u0430ypal.example.org", "g\u043e\u043egle.de"],
)
def test_mixed_script_look_alikes_are_refused_saying_why(mixed):
    with pytest.raises(ValidationError, match=r"mixes scripts.*Cyrillic and Latin"):
        normalize_domain(mixed, base_domain="localhost")


@pytest.mark.parametrize(
    "single",
    [
        "日本語.jp",
        "ドメイン名例.jp",
        "bücher-shop.de",
        "пример.рф",
        "παράδειγμα.δοκιμή",
        "例子abc.cn",
    ],
)
def test_one_script_per_label_and_the_cjk_mixes_are_accepted(single):
    assert normalize_domain(single, base_domain="localhost").isascii()
