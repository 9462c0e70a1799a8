"""The SQS client and queue of the event sync, from the ``sync.*`` and ``storage.*`` settings.

The queue lives in the bucket's account: the storage credentials (or boto3's default chain,
an instance role) are used for SQS too.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from pypicloud.settings import Settings
from pypicloud.storage.s3 import S3Storage
from pypicloud.sync.options import SyncOptions


class QueueMissing(Exception):
    """The configured queue does not exist (``ppc-create-s3-sync`` creates it)."""


def sqs_client(settings: Settings, options: SyncOptions) -> Any:
    credentials = S3Storage.options_from_settings(settings)["credentials"]
    session = boto3.session.Session(region_name=options.region_name, **credentials)
    return session.client("sqs", endpoint_url=options.endpoint_url)


def find_queue(sqs: Any, name: str) -> str | None:
    """The URL of the queue called ``name``, or None."""
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def queue_url(sqs: Any, options: SyncOptions) -> str:
    """``sync.queue_url``, or the URL of the queue named ``sync.queue_name``."""
    if options.queue_url:
        return options.queue_url
    url = find_queue(sqs, options.queue_name)
    if url is None:
        raise QueueMissing(f"no SQS queue {options.queue_name!r}: run ppc-create-s3-sync first")
    return url


def queue_arn(sqs: Any, url: str) -> str:
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(answer["Attributes"]["QueueArn"])


def _missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
