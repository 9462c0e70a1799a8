"""The audit log in the DynamoDB package database: the ``<db.namespace>PypicloudAudit`` table.

One partition per UTC day (hash key ``day``, ``YYYY-MM-DD``) sorted by time (range key
``at``, a fixed-width ISO time and a random suffix so two entries of one instant stay two).
A query walks the days newest first, one Query each; the days that hold entries are
listed by a keys-only Scan at most once an hour per process, so the empty days of the
window are skipped rather than asked for. Retention is kept twice: a TTL attribute
``expires`` lets DynamoDB drop old items on its own, and since moto and DynamoDB Local may
never do so, a write also deletes the days past the retention, at most once an hour per
process.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pypicloud.audit import (
    Actor,
    AuditEntry,
    AuditOptions,
    AuditQuery,
    PruneSchedule,
    current_actor,
    now_utc,
)
from pypicloud.cache.dynamo import ensure_table

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds, per process
#: How far back a query walks when neither ``since`` nor a retention bounds it.
MAX_DAYS = 400
SIZES = {"actor": 255, "token_id": 64, "address": 64, "action": 64, "project": 255}
SIZES |= {"target": 255, "detail": 2000}
_ERRORS = (BotoCoreError, ClientError)


def _day(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d")


def _at(when: dt.datetime) -> str:
    """Fixed width, so the range key sorts as the times do."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DynamoAuditLog:
    """Entries in one DynamoDB table, shared by every server of the deployment."""

    stored = True

    def __init__(self, client: Any, namespace: str = "", options: AuditOptions | None = None):
        self.client = client
        self.table = f"{namespace}PypicloudAudit"
        self.options = options or AuditOptions()
        self._schedule = PruneSchedule(self.prune, _ERRORS, PRUNE_EVERY)
        # The days that held entries as of ``_days_as_of`` (a keys-only Scan, hourly), so a
        # query skips the empty days of the window instead of asking for each one.
        self._days: set[str] = set()
        self._days_as_of: dt.date | None = None
        self._next_days = 0.0
        self.create_table()

    def create_table(self) -> None:
        strings = [
            {"AttributeName": "day", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ]
        spec = {
            "TableName": self.table,
            "KeySchema": [
                {"AttributeName": "day", "KeyType": "HASH"},
                {"AttributeName": "at", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": strings,
        }
        ensure_table(self.client, spec)
        try:
            ttl = self.client.describe_time_to_live(TableName=self.table)
            if ttl["TimeToLiveDescription"].get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                return
            self.client.update_time_to_live(
                TableName=self.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
            )
        except _ERRORS:  # an endpoint without TTL: the hourly prune still keeps the retention
            log.warning("could not turn on TTL of %s; old entries are pruned on write", self.table)

    # -- writing -----------------------------------------------------------------------

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
        values = {
            "actor": who.name or "",
            "token_id": who.token_id,
            "address": who.address,
            "action": action,
            "project": project,
            "target": target,
            "detail": detail,
        }
        item: dict[str, Any] = {
            "day": {"S": _day(when)},
            "at": {"S": f"{_at(when)}#{secrets.token_hex(4)}"},
        }
        for name, value in values.items():
            if value is not None:
                item[name] = {"S": value[: SIZES[name]]}
        if self.options.retention_days > 0:
            expires = when + dt.timedelta(days=self.options.retention_days)
            item["expires"] = {"N": str(int(expires.timestamp()))}
        try:
            self.client.put_item(TableName=self.table, Item=item)
        except _ERRORS:  # the change itself succeeded
            log.exception("could not record %s of %s in the audit log", action, target or project)
            return
        self._schedule.maybe_prune()

    def prune(self, now: dt.datetime | None = None) -> int:
        """Delete the entries older than the retention; how many went.

        A Scan for keys only: the table holds about the retention's worth of entries (TTL
        and this prune see to it), and this runs at most once an hour."""
        cutoff = self.options.cutoff(now or now_utc())
        if cutoff is None:
            return 0
        keys: list[dict[str, Any]] = []
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="#d, #a",
            FilterExpression="#d < :day OR (#d = :day AND #a < :at)",
            ExpressionAttributeNames={"#d": "day", "#a": "at"},
            ExpressionAttributeValues={":day": {"S": _day(cutoff)}, ":at": {"S": _at(cutoff)}},
        )
        for page in pages:
            keys.extend(page.get("Items", []))
        for start in range(0, len(keys), 25):
            self._delete([{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]])
        return len(keys)

    def _delete(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(8):
            answer = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self.table, [])
            if not requests:
                return
            time.sleep(0.05 * 2**attempt)
        log.warning("%d old audit entries are left for the next prune", len(requests))

    # -- reading -----------------------------------------------------------------------

    def _known_days(self, today: dt.date) -> tuple[set[str], dt.date | None]:
        """The days holding entries, and the day they were listed (later days are unknown).

        A day before the listing gets no new entries (writes go to the writer's today), so
        only the listing's day and later ones (less a day for clocks apart) are always read."""
        now = time.monotonic()
        if now >= self._next_days or self._days_as_of is None:
            days: set[str] = set()
            pages = self.client.get_paginator("scan").paginate(
                TableName=self.table,
                ProjectionExpression="#d",
                ExpressionAttributeNames={"#d": "day"},
            )
            for page in pages:
                days.update(item["day"]["S"] for item in page.get("Items", []))
            self._days, self._days_as_of = days, today
            self._next_days = now + PRUNE_EVERY
        return self._days, self._days_as_of

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        today = now_utc()
        floor = query.since or self.options.cutoff(today) or today - dt.timedelta(days=MAX_DAYS)
        found: list[AuditEntry] = []
        day = today.astimezone(dt.UTC).date()
        last = floor.astimezone(dt.UTC).date()
        days, as_of = self._known_days(day)
        always = as_of - dt.timedelta(days=1) if as_of is not None else last
        while day >= last and len(found) < query.limit:
            if day < always and day.isoformat() not in days:
                day -= dt.timedelta(days=1)
                continue
            condition = "#d = :day"
            names = {"#d": "day"}
            values = {":day": {"S": day.isoformat()}}
            if query.since is not None and day == last:
                condition += " AND #a >= :at"
                names["#a"] = "at"
                values[":at"] = {"S": _at(query.since)}
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
            )
            for item in (item for page in pages for item in page.get("Items", [])):
                entry = _entry(item)
                if query.matches(entry):
                    found.append(entry)
                    if len(found) == query.limit:
                        break
            day -= dt.timedelta(days=1)
        return found


def _entry(item: dict[str, Any]) -> AuditEntry:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    stamp = (text("at") or "").partition("#")[0]
    try:
        when = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        when = dt.datetime.fromisoformat(text("day") or "1970-01-01").replace(tzinfo=dt.UTC)
    return AuditEntry(
        when=when,
        actor=text("actor") or "",
        action=text("action") or "",
        project=text("project"),
        target=text("target"),
        detail=text("detail"),
        token_id=text("token_id"),
        address=text("address"),
    )
