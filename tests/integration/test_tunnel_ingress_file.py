"""The tunnel provider on a real file system with a real restart command: written whole and
atomically, unchanged when the database did not change, and a restart that failed (or was
cut off) is made up by the next apply even though the file already looks right."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hostplane.errors import TemporaryError
from hostplane.providers.base import Outcome
from hostplane.providers.cloudflared.ingress import IngressSettings
from hostplane.providers.cloudflared.tunnel import CloudflareTunnel, TunnelConfig


@pytest.fixture
def tunnel(tmp_path: Path) -> CloudflareTunnel:
    script = tmp_path / "restart"
    script.write_text(
        f'#!/bin/sh\n[ -e "{tmp_path}/broken" ] && {{ echo "unit failed" >&2; exit 1; }}\n'
        f'echo restarted >> "{tmp_path}/restarts.log"\n'
    )
    script.chmod(0o755)
    return CloudflareTunnel(
        TunnelConfig(
            ingress=IngressSettings("tid", "/etc/cloudflared/tid.json", "http://127.0.0.1:80"),
            config_path=tmp_path / "cf" / "config.yml",
            cloudflared_binary="cloudflared-not-installed-here",
            restart_command=str(script),
        )
    )


def _restarts(tmp_path: Path) -> int:
    log = tmp_path / "restarts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_apply_writes_the_whole_file_and_restarts_once_per_change(tunnel, tmp_path):
    assert tunnel.apply(["b.example.org", "a.example.org"]) is Outcome.CREATED
    rules = yaml.safe_load(tunnel.config.config_path.read_text())["ingress"]
    assert [r.get("hostname") for r in rules] == ["a.example.org", "b.example.org", None]
    assert tunnel.apply(["a.example.org", "b.example.org"]) is Outcome.UNCHANGED
    assert _restarts(tmp_path) == 1
    assert tunnel.apply(["a.example.org"]) is Outcome.UPDATED
    assert tunnel.observe() == ["a.example.org"]
    assert _restarts(tmp_path) == 2
    assert sorted(p.name for p in tunnel.config.config_path.parent.iterdir()) == ["config.yml"]


def test_a_failed_restart_is_made_up_by_the_next_apply(tunnel, tmp_path):
    (tmp_path / "broken").touch()
    with pytest.raises(TemporaryError, match="restarting cloudflared"):
        tunnel.apply(["a.example.org"])
    assert tunnel.observe() == ["a.example.org"]  # written, not yet in force
    (tmp_path / "broken").unlink()
    assert tunnel.apply(["a.example.org"]) is Outcome.UPDATED
    assert _restarts(tmp_path) == 1
    assert tunnel.apply(["a.example.org"]) is Outcome.UNCHANGED
