"""S3 event notifications, in every envelope they arrive in, reduced to (bucket, key).

S3 sends ``{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
"s3": {"bucket": {"name": ...}, "object": {"key": ..., "sequencer": ...}}}]}``. That body
reaches us directly (a Lambda invoked by S3), inside an SNS notification (``Sns.Message``, or
an SQS body that is an SNS envelope), or as an SQS message body. Keys are URL-encoded the way
HTML forms are (``+`` for a space, ``%2B`` for a plus). Only the standard library is used:
this module is imported by the Lambda handler first.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

#: The event families that change what a key holds; others (tagging, ACL, restore) do not.
HANDLED = ("ObjectCreated:", "ObjectRemoved:")


class BadEvent(ValueError):
    """The payload is not an S3 notification we understand (malformed JSON, wrong shape)."""


@dataclasses.dataclass(frozen=True)
class ObjectEvent:
    """One object's change. Which kind matters little: the object itself is checked."""

    bucket: str
    key: str
    name: str  # ObjectCreated:Put, ObjectRemoved:Delete...
    sequencer: str = ""

    @property
    def created(self) -> bool:
        return self.name.startswith("ObjectCreated:")


def object_events(payload: Any) -> Iterator[ObjectEvent]:
    """The object events in any accepted envelope; a test event yields nothing.

    ``payload`` is the decoded event a Lambda receives, or the text of an SQS/SNS message.
    Raise BadEvent for anything else, so the message is retried and ends in the dead-letter
    queue rather than being dropped unnoticed.
    """
    body = _decoded(payload)
    if not isinstance(body, dict):
        raise BadEvent(f"expected a JSON object, got {type(body).__name__}")
    if body.get("Event") == "s3:TestEvent":  # sent when a notification is configured
        return
    if body.get("Type") == "Notification" and "Message" in body:  # an SNS envelope in SQS
        yield from object_events(body["Message"])
        return
    records = body.get("Records")
    if not isinstance(records, list):
        raise BadEvent("no Records list and not an SNS notification or S3 test event")
    for record in records:
        yield from _record_events(record)


def _record_events(record: Any) -> Iterator[ObjectEvent]:
    if not isinstance(record, dict):
        raise BadEvent("a record is not an object")
    source = record.get("eventSource") or record.get("EventSource")
    if source == "aws:sns":
        sns = record.get("Sns")
        if not isinstance(sns, dict) or "Message" not in sns:
            raise BadEvent("SNS record without Sns.Message")
        yield from object_events(sns["Message"])
    elif source == "aws:sqs":
        if "body" not in record:
            raise BadEvent("SQS record without body")
        yield from object_events(record["body"])
    elif source == "aws:s3":
        event = _s3_event(record)
        if event is not None:
            yield event
    else:
        raise BadEvent(f"unknown event source {source!r}")


def _s3_event(record: dict[str, Any]) -> ObjectEvent | None:
    name = record.get("eventName")
    if not isinstance(name, str):
        raise BadEvent("S3 record without eventName")
    if not name.startswith(HANDLED):
        return None
    try:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = obj["key"]
    except (KeyError, TypeError):
        raise BadEvent("S3 record without s3.bucket.name and s3.object.key") from None
    if not isinstance(bucket, str) or not isinstance(key, str) or not key:
        raise BadEvent("S3 record with a bucket name or key that is not text")
    return ObjectEvent(bucket, unquote_plus(key), name, str(obj.get("sequencer") or ""))


def _decoded(payload: Any) -> Any:
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise BadEvent("message is not UTF-8") from None
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise BadEvent(f"message is not JSON: {exc}") from None
    return payload
