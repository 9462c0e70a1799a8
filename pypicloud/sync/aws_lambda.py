"""The event sync as an AWS Lambda function; settings come from environment variables.

The variables are the ini keys spelled as ``PPC_<KEY>`` (``PPC_STORAGE_BUCKET``,
``PPC_STORAGE_PREFIX``, ``PPC_PYPI_DB``, ``PPC_DB_URL``...), as for the server. The services
are built once per Lambda container and reused by its invocations. Invoked by S3 or SNS, a
failure raises (Lambda retries, then its on-failure destination gets the event); invoked by
SQS, failed messages are reported one by one (``ReportBatchItemFailures``), so only those are
retried and, after the queue's maxReceiveCount, dead-lettered.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import Any

from pypicloud.sync.apply import EventSync

log = logging.getLogger(__name__)

_sync: EventSync | None = None


def build(environ: dict[str, str] | None = None) -> EventSync:
    """The sync of the bucket and database the environment names (no bucket is created)."""
    from pypicloud.cache import cache_from_settings
    from pypicloud.packages import PackageOptions, PackageService
    from pypicloud.settings import Settings
    from pypicloud.storage.s3 import S3Storage

    settings = Settings({}, environ=os.environ if environ is None else environ, here="/tmp")
    storage = S3Storage(**S3Storage.options_from_settings(settings), create_bucket=False)
    packages = PackageService(
        storage, cache_from_settings(settings), PackageOptions.from_settings(settings)
    )
    return EventSync(storage, packages)


def handle(event: dict[str, Any], context: Any, sync: EventSync | None = None) -> dict[str, Any]:
    global _sync
    if sync is None:
        if _sync is None:
            logging.getLogger("pypicloud").setLevel(logging.INFO)
            _sync = build()
        sync = _sync
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records and all(_from_sqs(r) for r in records):
        return _sqs_batch(sync, records)
    outcomes = sync.handle(event)
    return {"outcomes": dict(outcomes)}


def _from_sqs(record: Any) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _sqs_batch(sync: EventSync, records: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    failures = []
    for record in records:
        try:
            outcomes.update(sync.handle(record.get("body", "")))
        except Exception as exc:  # this message alone is retried
            log.error("message %s failed: %s: %s", record.get("messageId"), type(exc).__name__, exc)
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures, "outcomes": dict(outcomes)}
