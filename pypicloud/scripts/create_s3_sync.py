"""``ppc-create-s3-sync config.ini``: create the SQS queue (with a dead-letter queue unless
``sync.max_receives = 0``) that ``ppc-sync`` or the Lambda reads, allow the bucket to send to
it, and make the bucket notify it of every object created or removed under
``storage.prefix``. Safe to run again: what exists is kept, including the bucket's other
notifications, and a second run says "already configured".
"""

from __future__ import annotations

import argparse

from botocore.exceptions import BotoCoreError, ClientError

from pypicloud.scripts.common import fail, load_settings, run
from pypicloud.settings import ConfigError
from pypicloud.storage.s3 import S3Storage
from pypicloud.sync.aws import sqs_client
from pypicloud.sync.options import SyncOptions
from pypicloud.sync.provision import provision


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-create-s3-sync",
        description="Create the SQS queue and the bucket notification the event sync reads.",
    )
    p.add_argument("config", help="the server's ini file (pypi.storage = s3)")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings(args.config)
    if settings.str("pypi.storage") not in ("s3", "cloudfront", "pypicloud.storage.S3Storage"):
        fail("ppc-create-s3-sync configures S3: it needs pypi.storage = s3 (or cloudfront)")
    try:
        storage = S3Storage(**S3Storage.options_from_settings(settings), create_bucket=False)
        options = SyncOptions.from_settings(settings)
    except ConfigError as exc:
        fail(f"pypicloud cannot start: {exc}")
    try:
        done = provision(
            storage.client,
            sqs_client(settings, options),
            storage.bucket,
            storage.options.prefix,
            options,
        )
    except (BotoCoreError, ClientError) as exc:
        fail(f"cannot configure the sync of {storage.bucket}: {exc}")
    for line in done or ["already configured"]:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
