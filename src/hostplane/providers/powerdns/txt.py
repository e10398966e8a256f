"""TXT data in PowerDNS's (and zone files') syntax: one or more quoted <character-string>s of at
most 255 bytes each, separated by one space, with `"` and `\\` escaped and every byte outside
printable ASCII written as `\\DDD` (decimal). Pure.

`txt_content(text)` turns what a user means (any Unicode text) into that syntax, splitting on
UTF-8 character boundaries so that each string decodes on its own; `txt_text(content)` gives the
text back. `canonical_txt(content)` rewrites content someone else wrote (the same strings, in
this module's spelling, strings over 255 bytes split as they go on the wire).
"""

from __future__ import annotations

from hostplane.errors import ValidationError

MAX_STRING = 255  # bytes in one <character-string> (RFC 1035 §3.3)
MAX_RDATA = 65535  # bytes of RDATA: each string costs its length + 1


def quote(data: bytes) -> str:
    """One <character-string>, quoted and escaped."""
    out = ['"']
    for byte in data:
        if byte in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(byte))
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def render(strings: list[bytes]) -> str:
    return " ".join(quote(s) for s in strings)


def split_text(text: str) -> list[bytes]:
    """`text` as UTF-8 in strings of at most 255 bytes, never cutting a character in two."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"TXT value is not valid Unicode text ({exc.reason})") from None
    if not data:
        return [b""]
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + MAX_STRING, len(data))
        # Back off to the start of a character: continuation bytes are 0b10xxxxxx.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        chunks.append(data[start:end])
        start = end
    _check_size(chunks)
    return chunks


def _check_size(strings: list[bytes]) -> None:
    size = sum(len(s) + 1 for s in strings)
    if size > MAX_RDATA:
        raise ValidationError(
            f"TXT value is {size} bytes on the wire: DNS allows at most {MAX_RDATA} per record; "
            "shorten it or spread it over several records"
        )


def txt_content(text: str) -> str:
    """The PowerDNS content of a TXT record holding `text`."""
    return render(split_text(text))


def parse(content: str) -> list[bytes]:
    """The strings of TXT content in zone-file syntax; ValidationError says what is wrong."""
    strings: list[bytes] = []
    i, n = 0, len(content)
    while True:
        while i < n and content[i] in " \t":
            i += 1
        if i == n:
            break
        if content[i] != '"':
            raise ValidationError(
                f"TXT content {content!r} must be quoted strings (at position {i}): "
                'write "text" or "part one" "part two"'
            )
        data, i = _string(content, i + 1)
        strings.append(data)
    if not strings:
        raise ValidationError('TXT content is empty: write "" for an empty string')
    return strings


def _string(content: str, i: int) -> tuple[bytes, int]:
    """The bytes of the string opened just before `i`, and the index after its closing quote."""
    out = bytearray()
    n = len(content)
    while i < n:
        ch = content[i]
        if ch == '"':
            return bytes(out), i + 1
        if ch == "\\":
            i, byte = _escape(content, i + 1)
            out += byte
            continue
        out += ch.encode("utf-8")
        i += 1
    raise ValidationError(f"TXT content {content!r} has a string without its closing quote")


def _escape(content: str, i: int) -> tuple[int, bytes]:
    digits = content[i : i + 3]
    if len(digits) == 3 and digits.isdigit() and digits.isascii():
        value = int(digits)
        if value > 255:
            raise ValidationError(f"TXT content {content!r}: \\{digits} is not a byte (0-255)")
        return i + 3, bytes([value])
    if i >= len(content):
        raise ValidationError(f"TXT content {content!r} ends with a lone backslash")
    return i + 1, content[i].encode("utf-8")


def txt_text(content: str) -> str:
    """The text TXT content holds: its strings joined (as DKIM and SPF read them)."""
    return b"".join(parse(content)).decode("utf-8", errors="replace")


def canonical_txt(content: str) -> str:
    """TXT content in this module's spelling, its string boundaries kept."""
    strings: list[bytes] = []
    for data in parse(content):
        pieces = [data[i : i + MAX_STRING] for i in range(0, len(data), MAX_STRING)]
        strings.extend(pieces or [b""])
    _check_size(strings)
    return render(strings)
