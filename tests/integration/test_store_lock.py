"""UnitOfWork.lock on the real backends: a second transaction that locks the same key waits
until the first one ends (PostgreSQL's advisory lock; SQLite's write lock)."""

from __future__ import annotations

import threading
import time

from hostplane.kernel.store.uow import Store


def test_a_second_transaction_locking_the_key_waits_for_the_first_to_end(store: Store):
    order: list[str] = []
    first_holds = threading.Event()

    def second() -> None:
        first_holds.wait(10)
        with store.unit_of_work() as uow:
            uow.lock("domain.owner:example.com")
            order.append("second locked")

    thread = threading.Thread(target=second)
    thread.start()
    with store.unit_of_work() as uow:
        uow.lock("domain.owner:example.com")
        first_holds.set()
        time.sleep(0.3)  # what is checked is that the second did NOT get through meanwhile
        order.append("first ends")
    thread.join(10)
    assert order == ["first ends", "second locked"]
