"""`GET /v1/operations/{id}?wait=`: answered once the operation has ended (woken by the unit
of work that finished it), or after `wait` seconds as it then is."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hostplane.kernel.finished import FINISHED
from tests.inprocess.helpers import create_site
from tests.inprocess.plane import Failpoints, Plane


def test_a_wait_answers_once_the_operation_has_ended(
    plane: Plane, client: TestClient, points: Failpoints
):
    gate = points.hold_at("files.apply.before")
    op_id = plane.submit(create_site(plane.services).submitted)
    gate.wait_reached()
    answers: list[dict[str, Any]] = []
    waiter = threading.Thread(
        target=lambda: answers.append(client.get(f"/v1/operations/{op_id}?wait=30").json())
    )
    waiter.start()
    time.sleep(0.3)
    assert answers == []  # still waiting: the operation has not ended
    gate.open()
    waiter.join(timeout=20)
    assert answers and answers[0]["status"] == "SUCCEEDED", answers


def test_a_wait_that_runs_out_answers_the_operation_as_it_is(
    plane: Plane, client: TestClient, points: Failpoints
):
    gate = points.hold_at("files.apply.before")
    op_id = plane.submit(create_site(plane.services).submitted)
    gate.wait_reached()
    started = time.monotonic()
    r = client.get(f"/v1/operations/{op_id}", params={"wait": 0.4})
    assert time.monotonic() - started >= 0.4
    assert r.status_code == 200 and r.json()["status"] == "RUNNING"
    gate.open()
    assert plane.wait(op_id) == "SUCCEEDED"
    assert client.get(f"/v1/operations/{op_id}?wait=30").json()["status"] == "SUCCEEDED"


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
def test_a_wait_out_of_range_is_a_422_naming_it(client: TestClient, wait: str):
    r = client.get(f"/v1/operations/nope?wait={wait}")
    assert r.status_code == 422 and "wait" in r.text


def test_an_unknown_operation_is_404_at_once_even_with_a_wait(client: TestClient):
    started = time.monotonic()
    assert client.get("/v1/operations/nope?wait=30").status_code == 404
    assert time.monotonic() - started < 5


def test_the_commit_that_finishes_an_operation_wakes_its_watchers(plane: Plane, points: Failpoints):
    gate = points.hold_at("files.apply.before")
    op_id = plane.submit(create_site(plane.services).submitted)
    gate.wait_reached()

    async def watch() -> bool:
        async with FINISHED.watching(op_id) as ended:
            gate.open()  # the operation runs on and finishes in the engine's thread
            await asyncio.wait_for(ended.wait(), 10)  # no re-read: only the commit wakes it
            return ended.is_set()

    assert asyncio.run(watch())
    assert plane.wait(op_id) == "SUCCEEDED"
