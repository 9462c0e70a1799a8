"""S3 event notifications as AWS sends them (the documented notification structure, version
2.1), for tests that feed the event sync an exact event rather than one S3 delivered."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus


def s3_event(
    bucket: str,
    key: str,
    name: str = "ObjectCreated:Put",
    *,
    sequencer: str = "0055AED6DCD90281E5",
    quote: bool = True,
) -> dict[str, Any]:
    """One record; the key is form-encoded as S3 encodes it unless ``quote`` is false."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-01T12:00:00.000Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "pypicloud-sync",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/") if quote else key,
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": sequencer,
                    },
                },
            }
        ]
    }


def sns_envelope(message: Any) -> dict[str, Any]:
    """An SNS notification as SQS receives it (raw message delivery off)."""
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:pypicloud",
        "Subject": "Amazon S3 Notification",
        "Message": text,
        "Timestamp": "2026-12-01T12:00:00.000Z",
        "SignatureVersion": "1",
    }


def sns_lambda_event(message: Any) -> dict[str, Any]:
    """A Lambda invoked by an SNS topic."""
    envelope = sns_envelope(message)
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": envelope}]}


def sqs_lambda_event(bodies: list[str]) -> dict[str, Any]:
    """A Lambda invoked by an SQS queue, one record per message."""
    return {
        "Records": [
            {
                "messageId": f"message-{n}",
                "receiptHandle": f"handle-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:pypicloud-sync",
            }
            for n, body in enumerate(bodies)
        ]
    }
