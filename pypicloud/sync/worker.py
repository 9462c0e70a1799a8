"""The SQS worker behind ``ppc-sync``: long-polls the queue S3 notifies, applies each message.

A message is deleted (in batches) only once its events are applied. A message that fails is
left on the queue, hidden for a back-off that doubles on each receive
(``ChangeMessageVisibility``), so it is retried and, after the queue's ``maxReceiveCount``
receives, moved by SQS to the dead-letter queue. A failing message never stops the worker.
A stop (SIGTERM, SIGINT) ends a long poll at once but lets a batch being applied finish.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pypicloud.sync.apply import EventSync
from pypicloud.sync.options import SyncOptions

log = logging.getLogger(__name__)

IDLE_AFTER_ERROR = 5.0  # seconds between attempts when SQS itself cannot be reached


class _Stopped(BaseException):
    """Raised by the signal handler to end a long poll (nothing is being applied then)."""


class Worker:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        sync: EventSync,
        options: SyncOptions,
        reconcile: Callable[[], object] | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.sync = sync
        self.options = options
        self.reconcile = reconcile
        self.max_receives = self._redrive_limit()
        self._stop = threading.Event()
        self._polling = False
        self._reconciled = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker cleanly (main thread only)."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("stopping (signal %d)", signum)
            self.stop()
            if self._polling:
                raise _Stopped

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, *, once: bool = False) -> None:
        """Poll until stopped (or one batch with ``once``)."""
        log.info("reading %s", self.queue_url)
        while not self._stop.is_set():
            try:
                self.poll()
            except _Stopped:
                break
            except (BotoCoreError, ClientError) as exc:  # SQS unreachable or refusing
                log.error("cannot read %s: %s", self.queue_url, exc)
                if once or self._stop.wait(IDLE_AFTER_ERROR):
                    break
            if once:
                break
            self._maybe_reconcile()
        log.info("stopped")

    # -- one batch ---------------------------------------------------------------------

    def poll(self) -> int:
        """Receive one batch, apply it, delete what succeeded; return how many succeeded."""
        self._polling = True
        try:
            if self._stop.is_set():
                return 0
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.options.batch_size,
                WaitTimeSeconds=self.options.wait_seconds,
                AttributeNames=["ApproximateReceiveCount"],  # works with every boto3 >= 1.34,
            )
        finally:
            self._polling = False
        done = []
        for message in answer.get("Messages", []):
            if self._handled(message):
                done.append(message)
        self._delete(done)
        return len(done)

    def _handled(self, message: dict[str, Any]) -> bool:
        try:
            outcomes = self.sync.handle(message.get("Body", ""))
        except Exception as exc:  # any failure: retried, then dead-lettered by SQS
            self._failed(message, exc)
            return False
        log.debug("message %s: %s", message.get("MessageId"), dict(outcomes))
        return True

    def _failed(self, message: dict[str, Any], exc: Exception) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        delay = self.options.backoff(receives)
        if self.max_receives:
            fate = f"receive {receives} of {self.max_receives}"
            if receives >= self.max_receives:
                fate += ": SQS moves it to the dead-letter queue at its next receive"
        else:
            fate = f"receive {receives}; the queue has no dead-letter policy"
        log.error(
            "message %s failed (%s), retried in %ds: %s",
            message.get("MessageId"),
            fate,
            delay,
            f"{type(exc).__name__}: {exc}",
        )
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=delay,
            )
        except (BotoCoreError, ClientError) as error:  # it reappears after the queue's timeout
            log.warning("cannot delay message %s: %s", message.get("MessageId"), error)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
            ]
            try:
                answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                # Applied already: a redelivery is applied again, harmlessly.
                log.warning("cannot delete %d applied messages: %s", len(entries), exc)
                continue
            for failure in answer.get("Failed", []):
                log.warning("cannot delete an applied message: %s", failure.get("Message"))

    # -- helpers -----------------------------------------------------------------------

    def _redrive_limit(self) -> int:
        """The queue's maxReceiveCount (0: no dead-letter queue), for the log lines."""
        try:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            limit = int(policy.get("maxReceiveCount") or 0)
        except (BotoCoreError, ClientError, ValueError) as exc:
            log.warning("cannot read the redrive policy of %s: %s", self.queue_url, exc)
            return 0
        if not limit:
            log.warning(
                "%s has no dead-letter queue: a message that keeps failing is retried until "
                "the queue's retention period drops it (ppc-create-s3-sync sets one up)",
                self.queue_url,
            )
        return limit

    def _maybe_reconcile(self) -> None:
        every = self.options.reconcile_seconds
        if self.reconcile is None or not every or time.monotonic() - self._reconciled < every:
            return
        self._reconciled = time.monotonic()
        try:
            self.reconcile()
        except Exception:  # the next interval tries again; events keep flowing meanwhile
            log.exception("the periodic rebuild from storage failed")
