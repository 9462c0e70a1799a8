"""``ppc-sync config.ini``: keep this server's package database in step with its bucket by
reading the SQS queue the bucket notifies (see ``pypicloud.sync``). Runs until SIGTERM or
SIGINT, which end it after the batch being applied; ``--once`` reads one batch.
"""

from __future__ import annotations

import argparse

from pypicloud.scripts.common import fail, load_services, load_settings, run
from pypicloud.storage.s3 import S3Storage
from pypicloud.sync.apply import EventSync
from pypicloud.sync.aws import QueueMissing, queue_url, sqs_client
from pypicloud.sync.options import SyncOptions
from pypicloud.sync.worker import Worker


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-sync",
        description="Apply the bucket's S3 event notifications (from SQS) to the package "
        "database, so a server in another region sees uploads and deletes.",
    )
    p.add_argument("config", help="the server's ini file (pypi.storage = s3)")
    p.add_argument("--once", action="store_true", help="read one batch of messages and stop")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    services = load_services(args.config)
    if not isinstance(services.storage, S3Storage):
        fail("ppc-sync reads S3 event notifications: it needs pypi.storage = s3 (or cloudfront)")
    settings = load_settings(args.config)
    options = SyncOptions.from_settings(settings)
    sqs = sqs_client(settings, options)
    try:
        url = queue_url(sqs, options)
    except QueueMissing as exc:
        fail(str(exc))
    packages = services.packages
    worker = Worker(
        sqs, url, EventSync(services.storage, packages), options, packages.reload_from_storage
    )
    worker.install_signal_handlers()
    worker.run(once=args.once)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
