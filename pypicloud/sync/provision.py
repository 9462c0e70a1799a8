"""What ``ppc-create-s3-sync`` sets up, idempotently: the queue S3 notifies, its policy, an
optional dead-letter queue, and the bucket's notification of that queue.

Everything the bucket or queue already has is kept: the bucket's other notifications (S3
replaces the whole configuration on every write, so ours is merged into what is read back),
and the queue policy's other statements. Each step says what it did; a run that finds
everything in place says only "already configured".
"""

from __future__ import annotations

import json
from typing import Any

from pypicloud.sync.aws import find_queue, queue_arn
from pypicloud.sync.options import SyncOptions

NOTIFICATION_ID = "pypicloud-sync"
STATEMENT_ID = "pypicloud-sync-s3"
EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")


def provision(s3: Any, sqs: Any, bucket: str, prefix: str, options: SyncOptions) -> list[str]:
    """Set up the sync for ``bucket``; return one line per change made."""
    done: list[str] = []
    dead_letter_arn = None
    if options.max_receives:
        url = _ensure_queue(sqs, options.dead_letter_name, done)
        dead_letter_arn = queue_arn(sqs, url)
    # A queue given by URL exists already: it is only configured.
    url = options.queue_url or _ensure_queue(sqs, options.queue_name, done)
    arn = queue_arn(sqs, url)
    _ensure_queue_attributes(sqs, url, arn, bucket, dead_letter_arn, options, done)
    _ensure_notification(s3, bucket, prefix, arn, done)
    return done


def _ensure_queue(sqs: Any, name: str, done: list[str]) -> str:
    url = find_queue(sqs, name)
    if url is None:
        url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
        done.append(f"created SQS queue {name} ({url})")
    return url


def send_policy(arn: str, bucket: str, current: str | None) -> dict[str, Any]:
    """The queue policy letting S3 (this bucket only) send, other statements kept."""
    policy = json.loads(current) if current else {}
    statements = [s for s in policy.get("Statement", []) if s.get("Sid") != STATEMENT_ID]
    statements.append(
        {
            "Sid": STATEMENT_ID,
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
        }
    )
    return {"Version": policy.get("Version", "2012-10-17"), **policy, "Statement": statements}


def _ensure_queue_attributes(
    sqs: Any,
    url: str,
    arn: str,
    bucket: str,
    dead_letter_arn: str | None,
    options: SyncOptions,
    done: list[str],
) -> None:
    names = ["Policy", "RedrivePolicy"]
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names).get("Attributes", {})
    wanted: dict[str, str] = {}
    policy = send_policy(arn, bucket, current.get("Policy"))
    if not current.get("Policy") or json.loads(current["Policy"]) != policy:
        wanted["Policy"] = json.dumps(policy)
        done.append(f"allowed s3.amazonaws.com to send to {arn} from arn:aws:s3:::{bucket}")
    if dead_letter_arn is not None:
        redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": options.max_receives}
        have = json.loads(current.get("RedrivePolicy") or "{}")
        if _redrive(have) != _redrive(redrive):
            wanted["RedrivePolicy"] = json.dumps(redrive)
            done.append(f"messages failing {options.max_receives} receives go to {dead_letter_arn}")
    if wanted:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=wanted)


def _redrive(policy: dict[str, Any]) -> tuple[str, int]:
    return str(policy.get("deadLetterTargetArn", "")), int(policy.get("maxReceiveCount") or 0)


def notification(arn: str, prefix: str) -> dict[str, Any]:
    """Our queue configuration: every create and remove under ``storage.prefix``."""
    config: dict[str, Any] = {"Id": NOTIFICATION_ID, "QueueArn": arn, "Events": list(EVENTS)}
    if prefix:
        config["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    return config


def _ensure_notification(s3: Any, bucket: str, prefix: str, arn: str, done: list[str]) -> None:
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    queues = config.get("QueueConfigurations", [])
    ours = notification(arn, prefix)
    mine = [q for q in queues if q.get("Id") == NOTIFICATION_ID or q.get("QueueArn") == arn]
    if len(mine) == 1 and _same(mine[0], ours):
        return
    config["QueueConfigurations"] = [q for q in queues if q not in mine] + [ours]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    kept = sum(len(config.get(k, [])) for k in _KINDS) - 1
    what = f"under {prefix!r}" if prefix else "in the whole bucket"
    done.append(
        f"bucket {bucket} notifies {arn} of objects created and removed {what}"
        f" ({kept} other notification{'s' if kept != 1 else ''} kept)"
    )


_KINDS = ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")


def _same(have: dict[str, Any], want: dict[str, Any]) -> bool:
    def rules(config: dict[str, Any]) -> list[tuple[str, str]]:
        found = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        return sorted((r["Name"].lower(), r["Value"]) for r in found)

    return (
        have.get("QueueArn") == want["QueueArn"]
        and sorted(have.get("Events", [])) == sorted(want["Events"])
        and rules(have) == rules(want)
    )
