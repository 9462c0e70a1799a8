"""Keeping a region's package database in step with its bucket from S3 event notifications.

``events`` parses the notifications, ``apply`` turns them into database writes, ``worker``
reads them from SQS (``ppc-sync``), ``aws_lambda`` runs them as a Lambda function and
``provision`` sets up the queue and the bucket notification (``ppc-create-s3-sync``).
Nothing is imported here until used, so the server pays nothing for this package.
"""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (handler ``pypicloud.sync.lambda_handler``)."""
    from pypicloud.sync.aws_lambda import handle

    return handle(event, context)
