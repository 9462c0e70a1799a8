"""``moto_server`` with each DynamoDB request handled alone, as DynamoDB does.

moto's server answers requests in threads, and its DynamoDB backend does not lock: two
concurrent ``TransactWriteItems`` that both ``ADD`` to one counter can lose an increment
(measured: 8 concurrent increments ended at 5, 7 or 8). Real DynamoDB applies each
transaction atomically, so the tests of our concurrent writes need the same here. S3 and
the other services keep moto's threads. Run as ``python moto_atomic.py -H host -p port``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from moto import server

_dynamo = threading.Lock()


class AtomicDynamoDispatcher(server.DomainDispatcherApplication):  # type: ignore[misc]
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return super().__call__(environ, start_response)
        with _dynamo:
            return list(super().__call__(environ, start_response))


if __name__ == "__main__":
    server.DomainDispatcherApplication = AtomicDynamoDispatcher
    server.main()
