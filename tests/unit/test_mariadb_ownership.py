"""The ownership rules of the site database server (providers/mariadb/ownership.py), pure."""

from __future__ import annotations

import pytest

from hostplane.providers.mariadb.ownership import (
    NOBODY,
    Found,
    Kind,
    Verdict,
    judge,
    mark,
    marked_by,
    refusal,
)

US, THEM = "hpus", "hpthem"
D, U = Kind.DATABASE, Kind.USER


@pytest.mark.parametrize(
    ("kind", "exists", "claim", "mark_of", "adopt", "verdict", "holder"),
    [
        # absent: free, reserved by us (a crash after the claim), reserved by them
        (D, False, None, None, False, Verdict.CREATE, None),
        (D, False, US, None, False, Verdict.CREATE, None),
        (D, False, THEM, None, False, Verdict.FOREIGN, THEM),
        (U, False, None, None, False, Verdict.CREATE, None),
        (U, False, US, None, False, Verdict.CREATE, None),
        (U, False, THEM, None, False, Verdict.FOREIGN, THEM),
        # a database: its mark decides
        (D, True, US, US, False, Verdict.KEEP, None),
        (D, True, None, US, False, Verdict.KEEP, None),  # the ledger lost its row
        (D, True, None, THEM, False, Verdict.FOREIGN, THEM),
        (D, True, US, THEM, True, Verdict.FOREIGN, THEM),
        # unmarked: nobody's, even under our claim (we mark what we create in one statement)
        (D, True, None, None, False, Verdict.FOREIGN, NOBODY),
        (D, True, US, None, False, Verdict.FOREIGN, NOBODY),
        (D, True, THEM, None, True, Verdict.FOREIGN, THEM),
        (D, True, None, None, True, Verdict.ADOPT, None),
        (D, True, US, None, True, Verdict.ADOPT, None),  # adopted, claimed, not yet marked
        # an account: its claim decides
        (U, True, US, None, False, Verdict.KEEP, None),
        (U, True, THEM, None, True, Verdict.FOREIGN, THEM),
        (U, True, None, None, False, Verdict.FOREIGN, NOBODY),
        (U, True, None, None, True, Verdict.ADOPT, None),
    ],
)
def test_who_holds_what(kind, exists, claim, mark_of, adopt, verdict, holder):
    found = Found(kind, "wp_x", "" if kind is D else "localhost", exists, claim, mark_of)
    judged = judge(found, US, adopt_unmarked=adopt)
    assert (judged.verdict, judged.holder) == (verdict, holder)
    assert judged.ours == (verdict in (Verdict.KEEP, Verdict.ADOPT))


def test_adoption_takes_only_names_with_hostplanes_prefix():
    for kind in (D, U):
        found = Found(kind, "legacy", "", True, None, None)
        assert judge(found, US, adopt_unmarked=True).verdict is Verdict.FOREIGN


def test_marks_name_their_plane_and_nothing_else_counts():
    assert marked_by(mark(US)) == US
    for comment in (None, "", "hostplane:", "an operator's note", "Hostplane:hpus"):
        assert marked_by(comment) is None


def test_a_refusal_names_the_resource_and_its_owner():
    theirs = judge(Found(D, "wp_x", "", True, None, THEM), US, adopt_unmarked=False)
    text = refusal(theirs, US, "MariaDB at /run/mysqld/mysqld.sock")
    assert "database wp_x" in text and f"control plane {THEM}" in text and US in text
    nobodys = judge(Found(U, "wp_x", "localhost", True, None), US, adopt_unmarked=False)
    assert "user wp_x" in refusal(nobodys, US, "here") and "nobody" in refusal(nobodys, US, "x")
