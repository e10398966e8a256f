"""doctor's summary of how HAProxy's running host map and its map file differ, and which front
checks apply. Pure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hostplane.cli.doctor_front import Skipped, front_probes, map_difference, read_map_file
from hostplane.providers.haproxy.hostmap import render_file
from hostplane.settings import Settings


def test_the_map_file_reads_back_as_rendered(tmp_path: Path) -> None:
    entries = {"a.localhost": "site-a|static|/srv/a|-|-", "b.example": "site-b|php|/srv/b|x:9|m"}
    path = tmp_path / "hosts.map"
    path.write_text(render_file(entries))
    assert read_map_file(path) == entries
    path.write_text(render_file({}))
    assert read_map_file(path) == {}


def test_the_difference_names_a_few_hosts_of_each_kind() -> None:
    live = {f"h{i}.test": "v" for i in range(5)} | {"moved.test": "new"}
    on_disk = {"h0.test": "v", "gone.test": "v", "moved.test": "old"}
    summary = map_difference(live, on_disk)
    assert summary == (
        "4 only in HAProxy: h1.test, h2.test, h3.test, ...; "
        "1 only in the file: gone.test; 1 with another value: moved.test"
    )
    assert map_difference(on_disk, on_disk) == ""


def test_the_front_checks_say_why_they_do_not_apply(monkeypatch) -> None:
    monkeypatch.delenv("HOSTPLANE_EDGE_FRONT", raising=False)
    monkeypatch.delenv("HOSTPLANE_CADDY_ADMIN_URL", raising=False)
    told = Settings.load(edge_front="caddy")
    operators = Settings.load(caddy_admin_url="http://127.0.0.1:2019")
    for settings, why in (
        (told, "(HOSTPLANE_EDGE_FRONT=caddy)"),
        (operators, "the operator's own, HOSTPLANE_CADDY_ADMIN_URL"),
    ):
        ((name, probe, required),) = front_probes(settings)
        assert (name, required) == ("haproxy front", False)
        with pytest.raises(Skipped, match=re.escape(why)):
            probe()
    names = [name for name, _, _ in front_probes(Settings.load())]
    assert names[0] == "haproxy binary" and "caddy behind" in names
