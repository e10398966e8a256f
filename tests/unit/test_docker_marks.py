"""Whose a Docker object is, decided from its labels alone (providers/docker/marks.py); the
engine-side behaviour is in tests/integration/test_docker_ownership.py."""

from __future__ import annotations

import pytest

from hostplane import naming
from hostplane.errors import ConflictError, ForeignResourceError, PermanentError
from hostplane.providers.docker.marks import PLANE_LABEL, Marks, owner_of

OURS = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: "blog", PLANE_LABEL: "hpaaaa"}
OTHER_PLANE = {**OURS, PLANE_LABEL: "hpbbbb"}
BEFORE_PLANE_IDS = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: "blog"}
NOBODYS: dict[str, str] = {"com.example.owner": "ops"}


@pytest.mark.parametrize(
    ("labels", "adopt", "owned"),
    [
        (OURS, False, True),
        (OURS, True, True),
        (OTHER_PLANE, False, False),
        (OTHER_PLANE, True, False),  # adoption never reaches another plane's objects
        (BEFORE_PLANE_IDS, False, False),
        (BEFORE_PLANE_IDS, True, True),
        (NOBODYS, False, False),
        (NOBODYS, True, False),
        (None, True, False),
        ({**BEFORE_PLANE_IDS, naming.MANAGED_LABEL: "false"}, True, False),
    ],
)
def test_what_a_plane_owns(labels, adopt, owned):
    assert Marks("hpaaaa", adopt_unmarked=adopt).owns(labels) is owned


def test_an_adopted_object_is_owned_but_not_marked():
    marks = Marks("hpaaaa", adopt_unmarked=True)
    assert marks.owns(BEFORE_PLANE_IDS) and not marks.marked(BEFORE_PLANE_IDS)
    assert marks.marked(OURS) and not marks.marked(OTHER_PLANE)


def test_what_a_plane_puts_on_what_it_creates():
    assert Marks("hpaaaa").labels("blog", **{"hostplane.role": "files"}) == {
        **OURS,
        "hostplane.role": "files",
    }


def test_a_runtime_without_a_plane_id_owns_and_creates_nothing():
    marks = Marks("")
    assert not marks.owns({**OURS, PLANE_LABEL: ""}) and not marks.owns(BEFORE_PLANE_IDS)
    with pytest.raises(PermanentError, match="without a plane id"):
        marks.labels("blog")


def test_the_list_filter_asks_the_engine_for_our_label_unless_adopting():
    assert Marks("hpaaaa").list_filter() == {"label": f"{PLANE_LABEL}=hpaaaa"}
    assert Marks("hpaaaa", adopt_unmarked=True).list_filter() == {
        "label": f"{naming.MANAGED_LABEL}=true"
    }


@pytest.mark.parametrize(
    ("labels", "who"),
    [
        (OTHER_PLANE, "control plane hpbbbb"),
        (BEFORE_PLANE_IDS, "a Hostplane from before plane ids"),
        (NOBODYS, "someone outside Hostplane (no Hostplane labels)"),
    ],
)
def test_a_refusal_names_the_object_and_who_owns_it(labels, who):
    error = Marks("hpaaaa").foreign("volume", "wp_blog", labels)
    assert isinstance(error, ForeignResourceError)
    assert isinstance(error, ConflictError) and isinstance(error, PermanentError)
    assert "Docker volume wp_blog" in str(error) and who in str(error)
    assert "this control plane (hpaaaa)" in str(error)
    assert owner_of(labels) in str(error)
