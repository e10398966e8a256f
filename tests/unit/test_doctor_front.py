"""doctor's summary of how HAProxy's running host map and its map file differ. Pure."""

from __future__ import annotations

from pathlib import Path

from hostplane.cli.doctor_front import map_difference, read_map_file
from hostplane.providers.haproxy.hostmap import render_file


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
