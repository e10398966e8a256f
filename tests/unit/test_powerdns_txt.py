"""TXT quoting and splitting (providers/powerdns/txt.py): round trips for any text, strings of at
most 255 bytes that each decode on their own, and agreement with dnspython's zone-file parser
(an independent implementation of the same syntax)."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.providers.powerdns import txt

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=1200)
byte_strings = st.lists(st.binary(max_size=255), min_size=1, max_size=6)


def _dnspython_strings(content: str) -> list[bytes]:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, content)
    return list(rdata.strings)  # type: ignore[attr-defined]


@given(texts)
def test_any_text_comes_back_from_its_content(text):
    assert txt.txt_text(txt.txt_content(text)) == text


@given(texts)
def test_strings_are_at_most_255_bytes_and_each_is_whole_utf8(text):
    strings = txt.parse(txt.txt_content(text))
    assert all(len(s) <= txt.MAX_STRING for s in strings)
    for s in strings:
        s.decode("utf-8")  # raises if a character was cut in two
    assert b"".join(strings) == text.encode("utf-8")
    # Only the last string may be short of the limit by more than a character's width.
    assert all(len(s) > txt.MAX_STRING - 4 for s in strings[:-1])


@given(texts)
def test_content_is_printable_ascii_and_dnspython_reads_the_same_strings(text):
    content = txt.txt_content(text)
    assert content.isascii() and content.isprintable()
    assert _dnspython_strings(content) == txt.parse(content)


@given(byte_strings)
def test_any_bytes_survive_quoting_and_parsing(strings):
    content = txt.render(strings)
    assert txt.parse(content) == strings
    assert _dnspython_strings(content) == strings
    assert txt.canonical_txt(content) == content


def test_quotes_and_backslashes_are_escaped():
    assert txt.txt_content('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert txt.txt_content("") == '""'
    assert txt.txt_content("é\t") == '"\\195\\169\\009"'


def test_a_300_byte_value_is_two_strings():
    content = txt.txt_content("a" * 300)
    assert content == f'"{"a" * 255}" "{"a" * 45}"'


def test_a_character_is_never_cut_at_the_255_byte_boundary():
    text = "a" * 254 + "é"  # é is two bytes: the first string would end in its middle
    strings = txt.parse(txt.txt_content(text))
    assert strings == [b"a" * 254, "é".encode()]


def test_canonical_spelling_of_content_written_elsewhere():
    # Raw UTF-8 and decimal escapes are the same bytes; one string over 255 bytes is split
    # as it goes on the wire; the boundaries someone chose are kept.
    assert txt.canonical_txt('"café"') == '"caf\\195\\169"'
    assert txt.canonical_txt('"x"   "y"') == '"x" "y"'
    assert txt.canonical_txt(f'"{"b" * 300}"') == f'"{"b" * 255}" "{"b" * 45}"'


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("unquoted", "must be quoted strings"),
        ('"open', "without its closing quote"),
        ('"ends with \\', "lone backslash"),
        ('"\\256"', "is not a byte"),
        ("", "is empty"),
        ('"a" b', "must be quoted strings"),
    ],
)
def test_malformed_content_says_what_is_wrong(content, says):
    with pytest.raises(ValidationError, match=says):
        txt.parse(content)


def test_a_value_too_big_for_one_record_is_refused():
    with pytest.raises(ValidationError, match="at most 65535"):
        txt.txt_content("x" * 65535)


def test_text_that_is_not_unicode_is_refused():
    with pytest.raises(ValidationError, match="not valid Unicode"):
        txt.txt_content("\ud800")
