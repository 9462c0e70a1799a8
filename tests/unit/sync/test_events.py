"""S3 notifications in each envelope they arrive in: Lambda, SNS, SQS (raw or SNS-wrapped)."""

from __future__ import annotations

import json

import pytest

from pypicloud.sync.events import BadEvent, ObjectEvent, object_events
from tests.sync_events import s3_event, sns_envelope, sns_lambda_event, sqs_lambda_event

KEY = "packages/ab12/corp-lib/corp_lib-1.0-py3-none-any.whl"
EXPECTED = ObjectEvent("bucket", KEY, "ObjectCreated:Put", "0055AED6DCD90281E5")


def test_lambda_invocation_by_s3():
    assert list(object_events(s3_event("bucket", KEY))) == [EXPECTED]


def test_sns_notification_to_lambda():
    assert list(object_events(sns_lambda_event(s3_event("bucket", KEY)))) == [EXPECTED]


def test_sqs_message_with_raw_event():
    body = json.dumps(s3_event("bucket", KEY))
    assert list(object_events(body)) == [EXPECTED]
    assert list(object_events(body.encode())) == [EXPECTED]


def test_sqs_message_with_sns_envelope():
    assert list(object_events(json.dumps(sns_envelope(s3_event("bucket", KEY))))) == [EXPECTED]


def test_sqs_triggered_lambda():
    event = sqs_lambda_event([json.dumps(sns_envelope(s3_event("bucket", KEY)))])
    assert list(object_events(event)) == [EXPECTED]


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("p/my+file-1.0.tar.gz", "p/my file-1.0.tar.gz"),
        ("p/c%2B%2B-1.0.tar.gz", "p/c++-1.0.tar.gz"),
        ("p/caf%C3%A9-1.0.tar.gz", "p/café-1.0.tar.gz"),
        ("p/a%2Fb", "p/a/b"),
    ],
)
def test_keys_are_url_decoded_as_forms_are(encoded, decoded):
    (event,) = object_events(s3_event("bucket", encoded, quote=False))
    assert event.key == decoded


def test_removed_and_created_events():
    (removed,) = object_events(s3_event("bucket", KEY, "ObjectRemoved:Delete"))
    assert not removed.created and removed.name == "ObjectRemoved:Delete"
    (marker,) = object_events(s3_event("bucket", KEY, "ObjectRemoved:DeleteMarkerCreated"))
    assert not marker.created
    (copied,) = object_events(s3_event("bucket", KEY, "ObjectCreated:Copy"))
    assert copied.created


def test_other_event_kinds_and_the_test_event_are_ignored():
    assert list(object_events(s3_event("bucket", KEY, "ObjectTagging:Put"))) == []
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bucket"}
    assert list(object_events(json.dumps(test_event))) == []
    assert list(object_events(json.dumps(sns_envelope(test_event)))) == []


def test_several_records_in_order():
    first = s3_event("bucket", "a/x-1.0.tar.gz")
    second = s3_event("bucket", "a/x-1.0.tar.gz", "ObjectRemoved:Delete")
    both = {"Records": first["Records"] + second["Records"]}
    assert [e.name for e in object_events(both)] == ["ObjectCreated:Put", "ObjectRemoved:Delete"]


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        b"\xff\xfe",
        "[]",
        "42",
        json.dumps({"hello": "world"}),
        json.dumps({"Records": "nope"}),
        json.dumps({"Records": [17]}),
        json.dumps({"Records": [{"eventSource": "aws:dynamodb"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
        json.dumps({"Records": [{"eventSource": "aws:sns", "Sns": {}}]}),
        json.dumps({"Records": [{"eventSource": "aws:sqs"}]}),
        json.dumps(s3_event("bucket", "")),
        json.dumps(sns_envelope("{broken")),
    ],
)
def test_malformed_payloads_raise_bad_event(payload):
    with pytest.raises(BadEvent):
        list(object_events(payload))
