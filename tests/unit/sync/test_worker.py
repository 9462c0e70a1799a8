"""The worker's own control flow, on an in-process stand-in for SQS (the real queue is in
tests/functional/sync): stopping in a long poll, the periodic rebuild, a failing delete."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from botocore.exceptions import ClientError

from pypicloud.sync.options import SyncOptions
from pypicloud.sync.worker import Worker


class FakeSQS:
    def __init__(self, on_receive=None) -> None:
        self.on_receive = on_receive
        self.receives = 0
        self.deleted: list[list[dict[str, Any]]] = []

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"RedrivePolicy": '{"maxReceiveCount": 3}'}}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.receives += 1
        return self.on_receive() if self.on_receive else {}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.append(kwargs["Entries"])
        raise ClientError({"Error": {"Code": "InternalError"}}, "DeleteMessageBatch")


class NullSync:
    def handle(self, body: str) -> dict[str, int]:
        return {"unchanged": 1}


def test_a_signal_ends_a_long_poll_at_once():
    finished = []

    def long_poll() -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)  # the handler interrupts this
        finished.append(True)
        return {}

    sqs = FakeSQS(long_poll)
    worker = Worker(sqs, "url", NullSync(), SyncOptions())  # type: ignore[arg-type]
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        worker.install_signal_handlers()
        worker.run()
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert sqs.receives == 1 and finished == []


def test_the_periodic_rebuild_runs_when_due_and_its_failure_is_survived():
    calls = []

    def reconcile() -> None:
        calls.append(True)
        raise RuntimeError("database down")

    options = SyncOptions(reconcile_seconds=3600)
    worker = Worker(FakeSQS(), "url", NullSync(), options, reconcile)  # type: ignore[arg-type]
    worker._maybe_reconcile()
    assert calls == []  # not due yet
    worker._reconciled -= 3601
    worker._maybe_reconcile()
    worker._maybe_reconcile()
    assert calls == [True]


def test_a_failing_delete_is_logged_not_raised(caplog):
    message = {"MessageId": "m", "ReceiptHandle": "h", "Body": "{}"}
    sqs = FakeSQS(lambda: {"Messages": [message]})
    worker = Worker(sqs, "url", NullSync(), SyncOptions())  # type: ignore[arg-type]
    assert worker.poll() == 1
    assert sqs.deleted == [[{"Id": "0", "ReceiptHandle": "h"}]]
    assert "cannot delete 1 applied messages" in caplog.text
