"""The audit log in the Redis package database: one sorted set scored by time.

Every instance of a deployment writes to the same set (``<db.redis_prefix>audit``). Each
write also drops the entries older than ``pypi.audit_retention_days`` (one cheap
ZREMRANGEBYSCORE), and a query walks the newest entries first, filtering as it goes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from typing import Any

from pypicloud.audit import Actor, AuditEntry, AuditOptions, AuditQuery, current_actor, now_utc

log = logging.getLogger(__name__)

BATCH = 500


class RedisAuditLog:
    stored = True

    def __init__(self, client: Any, prefix: str, options: AuditOptions | None = None) -> None:
        self.client = client
        self.key = f"{prefix}audit"
        self.options = options or AuditOptions()

    def record(
        self,
        action: str,
        *,
        project: str | None = None,
        target: str | None = None,
        detail: str | None = None,
        actor: Actor | None = None,
    ) -> None:
        who = actor or current_actor()
        when = now_utc()
        entry = {
            "n": secrets.token_hex(4),  # two equal entries in one instant stay two
            "actor": who.name,
            "token_id": who.token_id,
            "address": who.address,
            "action": action,
            "project": project,
            "target": target,
            "detail": detail,
        }
        member = json.dumps(entry, separators=(",", ":"), sort_keys=True)
        try:
            pipe = self.client.pipeline()
            pipe.zadd(self.key, {member: when.timestamp()})
            cutoff = self.options.cutoff(when)
            if cutoff is not None:
                pipe.zremrangebyscore(self.key, "-inf", f"({cutoff.timestamp()}")
            pipe.execute()
        except Exception:  # redis errors of every kind; the change itself succeeded
            log.exception("could not record %s of %s in the audit log", action, target or project)

    def prune(self, now: dt.datetime | None = None) -> int:
        cutoff = self.options.cutoff(now or now_utc())
        if cutoff is None:
            return 0
        return int(self.client.zremrangebyscore(self.key, "-inf", f"({cutoff.timestamp()}"))

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        low = query.since.timestamp() if query.since is not None else "-inf"
        found: list[AuditEntry] = []
        start = 0
        while len(found) < query.limit:
            batch = self.client.zrevrangebyscore(
                self.key, "+inf", low, start=start, num=BATCH, withscores=True
            )
            if not batch:
                break
            start += len(batch)
            for member, score in batch:
                entry = _entry(member, score)
                if entry is not None and query.matches(entry):
                    found.append(entry)
                    if len(found) == query.limit:
                        break
        return found


def _entry(member: bytes | str, score: float) -> AuditEntry | None:
    try:
        data = json.loads(member)
    except ValueError:
        return None
    return AuditEntry(
        when=dt.datetime.fromtimestamp(score, dt.UTC),
        actor=str(data.get("actor") or ""),
        action=str(data.get("action") or ""),
        project=data.get("project"),
        target=data.get("target"),
        detail=data.get("detail"),
        token_id=data.get("token_id"),
        address=data.get("address"),
    )
