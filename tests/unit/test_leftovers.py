"""Which leftovers of an earlier test run are cleared (tests/leftovers.py): pure decisions."""

from __future__ import annotations

from pathlib import Path

from tests.leftovers import host_dir_of, is_abandoned


def test_only_paths_in_the_tests_host_directories_are_considered():
    assert host_dir_of("/tmp/hostplane-host-ab12/sites/blog") == Path("/tmp/hostplane-host-ab12")
    assert host_dir_of("/tmp/hostplane-host-ab12") == Path("/tmp/hostplane-host-ab12")
    assert host_dir_of("/srv/hostplane/sites/blog") is None  # a real plane's site
    assert host_dir_of("/tmp/other/hostplane-host-x") is None
    assert host_dir_of("/home/hostplane-host-x") is None


def test_a_directory_is_abandoned_when_it_or_its_test_process_is_gone():
    assert is_abandoned(False, None, None)  # gone: nobody can be using it
    assert is_abandoned(True, "123 456", None)  # its process is gone
    assert is_abandoned(True, "123 456", "123 999")  # its pid now names another process
    assert not is_abandoned(True, "123 456", "123 456")  # its run goes on
    assert not is_abandoned(True, None, None)  # no record: an older harness's, left alone
