"""The event sync against moto's HTTP server: S3 notifies SQS itself, the worker applies.

Region A is a PackageService on the bucket with its own SQLite database; region B is a second
database that only the sync writes. moto's server delivers S3 notifications to SQS (verified
by ``test_moto_delivers_s3_notifications_to_sqs``); replays feed back the bodies it sent.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from collections.abc import Callable
from urllib.parse import unquote_plus

import boto3
import pytest

from pypicloud.cache.sql import SQLCache, make_engine
from pypicloud.packages import PackageOptions, PackageService
from pypicloud.settings import Settings
from pypicloud.storage.s3 import S3Storage
from pypicloud.sync import aws_lambda
from pypicloud.sync.apply import EventSync
from pypicloud.sync.options import SyncOptions
from pypicloud.sync.provision import NOTIFICATION_ID, provision
from pypicloud.sync.worker import Worker
from pypicloud.uploads import UploadRequest
from tests.dists import wheel_bytes, wheel_name
from tests.fixtures.s3 import CREDENTIALS, REGION
from tests.sync_events import s3_event, sqs_lambda_event

PREFIX = "packages/"


def wheel(name: str, version: str, summary: str | None = None) -> UploadRequest:
    body = wheel_bytes(name, version, **({"summary": summary} if summary else {}))
    return UploadRequest(
        filename=wheel_name(name, version),
        content=io.BytesIO(body),
        name=name,
        version=version,
        filetype="bdist_wheel",
        digests={"sha256": hashlib.sha256(body).hexdigest()},
    )


def service(storage: S3Storage, path) -> PackageService:
    return PackageService(storage, SQLCache(make_engine(f"sqlite:///{path}")), PackageOptions())


@pytest.fixture
def sqs(moto_endpoint):
    return boto3.session.Session().client(
        "sqs", endpoint_url=moto_endpoint, region_name=REGION, **CREDENTIALS
    )


@pytest.fixture
def settings(s3_settings, moto_endpoint):
    return Settings(
        {
            **s3_settings,
            "storage.prefix": PREFIX,
            "sync.queue_name": f"sync-{uuid.uuid4().hex[:12]}",
            "sync.endpoint_url": moto_endpoint,
            "sync.wait_seconds": "1",
            "sync.retry_seconds": "0",  # a failed message is visible again at once
            "sync.max_receives": "2",
        },
        environ={},
    )


@pytest.fixture
def options(settings) -> SyncOptions:
    return SyncOptions.from_settings(settings)


@pytest.fixture
def storage(settings) -> S3Storage:
    return S3Storage.from_settings(settings)


@pytest.fixture
def region_a(storage, tmp_path) -> PackageService:
    return service(storage, tmp_path / "a.sqlite")


@pytest.fixture
def region_b(storage, tmp_path) -> PackageService:
    return service(storage, tmp_path / "b.sqlite")


@pytest.fixture
def queue(storage, sqs, options) -> str:
    provision(storage.client, sqs, storage.bucket, PREFIX, options)
    return str(sqs.get_queue_url(QueueName=options.queue_name)["QueueUrl"])


@pytest.fixture
def worker(sqs, queue, storage, region_b, options) -> Worker:
    return Worker(sqs, queue, EventSync(storage, region_b), options)


def drain(worker: Worker, until: Callable[[], bool], timeout: float = 30) -> None:
    """Poll batches until ``until()`` holds (moto delivers within the request, but SQS
    makes no promise about which receive returns a message)."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the sync did not catch up in time"
        worker.poll()


def received_bodies(sqs, url: str, count: int, timeout: float = 30) -> list[str]:
    """Take ``count`` messages off the queue (deleting them), in arrival order."""
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count:
        assert time.monotonic() < deadline, f"only {len(bodies)} of {count} messages arrived"
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            body = message["Body"]
            if "s3:TestEvent" not in body:
                bodies.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_moto_delivers_s3_notifications_to_sqs(region_a, queue, sqs, storage):
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    (body,) = received_bodies(sqs, queue, 1)
    (record,) = json.loads(body)["Records"]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == storage.bucket
    # Form-encoded; moto also encodes "/" (S3 leaves it), which decodes the same.
    assert unquote_plus(record["s3"]["object"]["key"]) == storage.key_for(stored)


def test_upload_and_delete_on_a_show_on_b(region_a, region_b, worker):
    stored = region_a.upload(wheel("corp-lib", "1.0", summary="the lib")).package
    drain(worker, lambda: region_b.cache.fetch(stored.filename) is not None)
    mirrored = region_b.cache.fetch(stored.filename)
    assert mirrored == region_a.cache.fetch(stored.filename)  # the very facts A recorded
    assert mirrored.summary == "the lib"
    assert [p.filename for p in region_b.files("corp-lib")] == [stored.filename]
    serial = region_b.serial()

    # A yank rewrites the object's metadata (a copy: ObjectCreated:Copy); B follows.
    region_a.set_yanked(mirrored, True, "broken build")
    drain(worker, lambda: region_b.cache.fetch(stored.filename).data.get("yanked") is True)
    assert region_b.cache.fetch(stored.filename).data["yanked_reason"] == "broken build"
    assert region_b.serial() > serial

    region_a.delete(stored)
    drain(worker, lambda: region_b.cache.fetch(stored.filename) is None)
    assert region_b.files("corp-lib") == []
    assert region_b.serial() > serial  # B's servers refresh their cached pages
    assert queued(worker.sqs, worker.queue_url) == 0  # applied messages were deleted


def test_region_b_on_postgresql(region_a, storage, sqs, queue, options, postgresql_url):
    region_b = PackageService(
        storage,
        SQLCache.from_settings(Settings({"db.url": postgresql_url}, environ={})),
        PackageOptions(),
    )
    worker = Worker(sqs, queue, EventSync(storage, region_b), options)
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    drain(worker, lambda: region_b.cache.fetch(stored.filename) is not None)
    assert region_b.cache.fetch(stored.filename) == region_a.cache.fetch(stored.filename)
    region_a.delete(stored)
    drain(worker, lambda: region_b.cache.fetch(stored.filename) is None)


def queued(sqs, url: str) -> int:
    """Messages on the queue, visible or in flight."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_a_removed_stray_copy_does_not_remove_the_real_file(region_a, region_b, storage):
    sync = EventSync(storage, region_b)
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    assert sync.handle(s3_event(storage.bucket, storage.key_for(stored))) == {"saved": 1}
    stray = f"{PREFIX}zzzz/corp-lib/{stored.filename}"  # no object there
    assert sync.handle(s3_event(storage.bucket, stray, "ObjectRemoved:Delete")) == {"unchanged": 1}
    assert region_b.cache.fetch(stored.filename) is not None


def test_replays_twice_and_out_of_order_change_nothing_wrong(
    region_a, region_b, storage, sqs, queue
):
    sync = EventSync(storage, region_b)
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    (created,) = received_bodies(sqs, queue, 1)
    region_a.delete(stored)
    (removed,) = received_bodies(sqs, queue, 1)

    # A late "created" after the delete: the object is gone, nothing is resurrected.
    for body in (removed, created, created, removed, created):
        sync.handle(body)
        assert region_b.cache.fetch(stored.filename) is None

    # Re-uploaded after the delete: the old "removed" (replayed late) must not win.
    again = region_a.upload(wheel("corp-lib", "1.0")).package
    assert sync.handle(removed) == {"saved": 1}
    for body in (created, removed, removed):
        assert sync.handle(body) == {"unchanged": 1}
    assert region_b.cache.fetch(again.filename) == region_a.cache.fetch(again.filename)
    serial = region_b.serial()
    sync.handle(created)
    assert region_b.serial() == serial  # a duplicate does not invalidate B's pages


def test_poison_messages_do_not_stop_the_worker_and_end_in_the_dead_letter_queue(
    region_a, region_b, worker, sqs, queue, options, storage, caplog
):
    sqs.send_message(QueueUrl=queue, MessageBody="{not json")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(s3_event("someone-else", "x/y")))
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    dead = str(sqs.get_queue_url(QueueName=options.dead_letter_name)["QueueUrl"])

    def dead_lettered() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    drain(worker, lambda: dead_lettered() == 2 and region_b.cache.fetch(stored.filename))
    assert "not JSON" in caplog.text and "someone-else" in caplog.text
    assert "receive 2 of 2" in caplog.text
    # Still working: the next event is applied.
    region_a.delete(stored)
    drain(worker, lambda: region_b.cache.fetch(stored.filename) is None)


def test_keys_outside_the_prefix_and_sidecars_are_ignored(region_b, storage, s3_client):
    sync = EventSync(storage, region_b)
    body = wheel_bytes("stray", "1.0")
    for key in ("elsewhere/stray/" + wheel_name("stray", "1.0"), PREFIX + "stray/x.whl.meta"):
        s3_client.put_object(Bucket=storage.bucket, Key=key, Body=body)
        assert sync.handle(s3_event(storage.bucket, key)) == {"ignored": 1}
    assert region_b.projects() == []


def test_provisioning_twice_keeps_other_notifications(storage, sqs, options, s3_client):
    theirs = sqs.create_queue(QueueName=f"theirs-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    theirs_arn = sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])
    existing = {
        "Id": "theirs",
        "QueueArn": theirs_arn["Attributes"]["QueueArn"],
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"}]}},
    }
    s3_client.put_bucket_notification_configuration(
        Bucket=storage.bucket, NotificationConfiguration={"QueueConfigurations": [existing]}
    )
    first = provision(storage.client, sqs, storage.bucket, PREFIX, options)
    assert any("created SQS queue " + options.queue_name in line for line in first)
    assert any(options.dead_letter_name in line for line in first)
    assert any("1 other notification kept" in line for line in first)
    assert provision(storage.client, sqs, storage.bucket, PREFIX, options) == []

    config = s3_client.get_bucket_notification_configuration(Bucket=storage.bucket)
    by_id = {q["Id"]: q for q in config["QueueConfigurations"]}
    assert set(by_id) == {"theirs", NOTIFICATION_ID}
    assert by_id["theirs"]["QueueArn"] == existing["QueueArn"]
    rules = by_id[NOTIFICATION_ID]["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", PREFIX)]
    url = sqs.get_queue_url(QueueName=options.queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{storage.bucket}"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 2


def test_lambda_reports_failed_sqs_messages_one_by_one(region_a, region_b, storage):
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    good = json.dumps(s3_event(storage.bucket, storage.key_for(stored)))
    event = sqs_lambda_event([good, "{not json"])
    answer = aws_lambda.handle(event, None, sync=EventSync(storage, region_b))
    assert answer["batchItemFailures"] == [{"itemIdentifier": "message-1"}]
    assert region_b.cache.fetch(stored.filename) == region_a.cache.fetch(stored.filename)


def test_lambda_builds_from_environment_variables(s3_settings, storage, region_a, tmp_path):
    stored = region_a.upload(wheel("corp-lib", "1.0")).package
    environ = {
        "PPC_STORAGE_BUCKET": storage.bucket,
        "PPC_STORAGE_PREFIX": PREFIX,
        "PPC_STORAGE_ENDPOINT_URL": s3_settings["storage.endpoint_url"],
        "PPC_STORAGE_REGION_NAME": REGION,
        "PPC_STORAGE_AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "PPC_STORAGE_AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "PPC_DB_URL": f"sqlite:///{tmp_path / 'lambda.sqlite'}",
    }
    sync = aws_lambda.build(environ)
    answer = aws_lambda.handle(s3_event(storage.bucket, storage.key_for(stored)), None, sync=sync)
    assert answer == {"outcomes": {"saved": 1}}
    assert sync.packages.cache.fetch(stored.filename) is not None
