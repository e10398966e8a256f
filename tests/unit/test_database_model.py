"""The database kind's pure rules (issue 17 item 3): MariaDB names derived from (tenant, name)
are one-to-one and within MariaDB's limits, grants name their database with its wildcards
escaped, and privilege sets read back as the level they were granted."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.kinds.database.model import (
    DATABASE_NAME_MAX,
    LIFECYCLE,
    USER_NAME_MAX,
    Privileges,
    database_identifier,
    parse_identifier,
    privilege_level,
    user_identifier,
    validate_name,
    validate_privileges,
)
from hostplane.kinds.tenant.model import TENANT_LABEL_PATTERN
from hostplane.providers.mariadb.identifiers import (
    ALL_PRIVILEGES,
    READ_PRIVILEGES,
    grant_pattern,
    grant_target,
)

tenants = st.from_regex(TENANT_LABEL_PATTERN, fullmatch=True)
db_names = st.from_regex(r"[a-z][a-z0-9_]{0,23}", fullmatch=True)
user_names = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)


def test_the_issues_example_pairs_do_not_collide():
    assert database_identifier("a", "b_c") != database_identifier("a-b", "c")
    assert user_identifier("a", "b_c") != user_identifier("a-b", "c")
    assert database_identifier("a", "b_c") == "tdb_1_a_b_c"
    assert database_identifier("a-b", "c") == "tdb_3_a_b_c"


@given(tenants, user_names)
def test_identifiers_parse_back_to_their_pair_and_fit_mariadb(tenant, name):
    """An inverse exists, so no two pairs share an identifier."""
    account = user_identifier(tenant, name)
    assert len(account) <= 80 and re.fullmatch(r"[a-z0-9_]+", account)
    assert parse_identifier(account) == ("tdu_", tenant, name)
    db = database_identifier(tenant, name[:DATABASE_NAME_MAX])
    assert len(db) <= 64
    assert parse_identifier(db) == ("tdb_", tenant, name[:DATABASE_NAME_MAX])


def test_the_longest_names_fit():
    tenant = "t" + "x" * 30 + "z"
    assert len(database_identifier(tenant, "d" * DATABASE_NAME_MAX)) == 64
    assert len(user_identifier(tenant, "u" * USER_NAME_MAX)) == 72


@pytest.mark.parametrize(
    "bad", ["", "1db", "Db", "a-b", "a%b", "a.b", "a`b", "a b", "x" * (DATABASE_NAME_MAX + 1)]
)
def test_invalid_names_are_refused(bad):
    with pytest.raises(ValidationError):
        validate_name(bad)


def test_an_invalid_tenant_is_refused():
    with pytest.raises(ValidationError):
        database_identifier("A_b", "x")


@given(tenants, db_names)
def test_a_grant_escapes_every_wildcard(tenant, name):
    db = database_identifier(tenant, name)
    pattern = grant_pattern(db)
    # Read as a LIKE pattern, it matches exactly that name: no bare `_` or `%` remains.
    assert re.sub(r"\\[_%\\]", "", pattern).count("_") == 0
    assert pattern.replace("\\_", "_") == db
    assert grant_target(db) == f"`{pattern}`"


def test_a_grant_on_a_b_does_not_cover_axb():
    assert grant_pattern("tdb_1_a_b") == "tdb\\_1\\_a\\_b"


def test_privilege_sets_read_back_as_their_level():
    assert privilege_level(READ_PRIVILEGES) == Privileges.READ
    assert privilege_level(ALL_PRIVILEGES) == Privileges.ALL
    assert privilege_level(ALL_PRIVILEGES | {"delete_history"}) == Privileges.ALL
    assert privilege_level(ALL_PRIVILEGES | {"grant"}) is None
    assert privilege_level(frozenset({"select"})) is None
    assert privilege_level(READ_PRIVILEGES | {"insert"}) is None


def test_privileges_are_all_or_read():
    assert validate_privileges("read") is Privileges.READ
    with pytest.raises(ValidationError):
        validate_privileges("write")


def test_the_lifecycle():
    LIFECYCLE.check("PENDING", "PROVISIONING")
    LIFECYCLE.check("ACTIVE", "DELETING")
    with pytest.raises(Exception):  # noqa: B017
        LIFECYCLE.check("ACTIVE", "DELETED")
