"""The DynamoDB package database, in the original pypicloud's two tables.

``<namespace>DynamoPackage`` (hash key ``filename``, index ``name-index`` on ``name``) and
``<namespace>PackageSummary`` (hash key ``name``) hold what the original wrote (numbers of
epoch seconds for ``last_modified``, a map for ``data``), so its tables are served as is.
A third table of ours, ``<namespace>PypicloudMeta`` (hash key ``key``), holds the serial, a
write lock for reloads, the core-metadata bytes and the project statuses (PEP 792, items
``project_status:<name>`` that a reload leaves alone); a fourth, ``<namespace>PypicloudChanges``
(hash key ``filename``), the reload generation of each file's last write.

Every write is one TransactWriteItems: the record, its project's summary row (guarded by a
revision number, so concurrent writers of one project retry instead of losing an update),
an atomic ADD to the serial, a check that no reload holds the lock, and the file's change
item. A reload takes the lock, so writers wait for it and its result is never mixed with theirs.

Why a generation and not the serial in the change item: a transaction cannot return the value
its ADD produced, and a condition on the serial would make every two writers collide. The
generation (an attribute of the serial item) moves only when a reload begins listing storage;
each write is conditioned on the generation it noted, so a write that commits after a listing
began carries that listing's generation, and the reload keeps its current record.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from pypicloud.cache.base import AlreadyCached, Cache, CacheDefaults, ProjectSummary, summarize
from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings
from pypicloud.versions import newest_first

#: DynamoDB refuses items over 400 KB; larger METADATA is re-read from the file instead.
MAX_CORE_METADATA = 350 * 1024
LOCK_SECONDS = 300
#: How often ``all`` asks a lagging ``name-index`` (pausing 50 ms, 100 ms... between).
INDEX_TRIES = 5
INDEX_PAUSE = 0.05
#: Keys a BatchGetItem takes at most.
STATUS_BATCH = 100
SERIAL = {"key": {"S": "serial"}}
LOCK = {"key": {"S": "lock"}}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """boto3's Decimals back to the ints and floats the records hold."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _number(when: dt.datetime) -> dict[str, str]:
    return {"N": f"{when.timestamp():.6f}"}


def _when(attribute: dict[str, str] | None) -> dt.datetime:
    return dt.datetime.fromtimestamp(float((attribute or {}).get("N", "0")), dt.UTC)


def _data_map(data: dict[str, Any]) -> dict[str, Any]:
    clean = json.loads(json.dumps(data), parse_float=Decimal)
    return {"M": {k: _serializer.serialize(v) for k, v in clean.items()}}


def package_to_item(package: Package) -> dict[str, Any]:
    item: dict[str, Any] = {
        "filename": {"S": package.filename},
        "name": {"S": package.name},
        "version": {"S": package.version},
        "last_modified": _number(package.last_modified),
        "data": _data_map(package.data),
    }
    if package.summary:  # DynamoDB refuses empty strings in keys; the original left it out
        item["summary"] = {"S": package.summary}
    return item


def item_to_package(item: dict[str, Any]) -> Package:
    raw = item.get("data", {})
    if "S" in raw:  # older flywheel releases stored the dict as JSON text
        try:
            data = json.loads(raw["S"])
        except ValueError:
            data = {}
    else:
        data = _plain(_deserializer.deserialize(raw)) if raw else {}
    return Package(
        name=item["name"]["S"],
        version=item.get("version", {}).get("S", ""),
        filename=item["filename"]["S"],
        last_modified=_when(item.get("last_modified")),
        summary=item.get("summary", {}).get("S") or None,
        data=data if isinstance(data, dict) else {},
    )


def summary_item(
    name: str, files: list[Package], rev: int, count: int | None = -1
) -> dict[str, Any]:
    """The original's summary row, plus ``stable``, ``rev`` and ``count`` of ours.

    ``count`` (the project's number of files; by default ``len(files)``, None when unknown)
    lets a reader of ``name-index`` tell a lagging index from the truth (see ``all``)."""
    [row] = summarize(files)
    newest = newest_first(files)[0]
    item: dict[str, Any] = {
        "name": {"S": name},
        "last_modified": _number(row.last_modified),
        "stable": {"S": row.stable},
        "stable_filename": {"S": newest.filename},
        "rev": {"N": str(rev)},
    }
    if count is not None:
        item["count"] = {"N": str(len(files) if count < 0 else count)}
    if row.summary:
        item["summary"] = {"S": row.summary}
    return item


def index_agrees(row: dict[str, Any] | None, items: list[dict[str, Any]]) -> bool:
    """Whether a project's records read through ``name-index`` match its summary row."""
    if row is None:
        return not items
    if "count" in row and len(items) != int(row["count"]["N"]):
        return False
    filenames = {item["filename"]["S"] for item in items}
    if "stable_filename" in row and row["stable_filename"]["S"] not in filenames:
        return False
    if "rev" in row and items:  # a row of ours: its time is the newest record's, as written
        newest = max(Decimal(item.get("last_modified", {}).get("N", "0")) for item in items)
        return newest == Decimal(row.get("last_modified", {}).get("N", "0"))
    return True


def fresh_rev() -> int:
    """A random first revision: a row dropped and made again never repeats an old one."""
    return uuid.uuid4().int >> 72


def ensure_table(client: Any, spec: dict[str, Any]) -> bool:
    """Create the table ``spec`` describes (PAY_PER_REQUEST) unless it exists; whether this
    call created it. Another server may race us to it: its table is as good as ours."""
    try:
        client.describe_table(TableName=spec["TableName"])
        return False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    created = True
    try:
        client.create_table(BillingMode="PAY_PER_REQUEST", **spec)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        created = False
    client.get_waiter("table_exists").wait(TableName=spec["TableName"])
    return created


class Cancelled(Exception):
    """A transaction was cancelled; ``reasons`` has one code per item ("None" when fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


class DynamoCache(CacheDefaults):
    """Package records in DynamoDB, shared by every server that points at the same tables."""

    max_core_metadata = MAX_CORE_METADATA

    def __init__(self, client: Any, namespace: str = "", tablenames: list[str] | None = None):
        self.client = client
        self.namespace = namespace  # the audit log's table is named with it too
        packages, summaries = tablenames or ["DynamoPackage", "PackageSummary"]
        self.packages = namespace + packages
        self.summaries = namespace + summaries
        self.meta = namespace + "PypicloudMeta"
        self.changes = namespace + "PypicloudChanges"
        self.generation: int | None = None  # the reload generation last seen (see _bump)
        self.create_tables()

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoCache:
        region = settings.str("db.region_name")
        host = settings.str("db.host")
        port = settings.int("db.port", 8000)
        secure = settings.bool("db.secure")
        tablenames = settings.list("db.tablenames")
        if tablenames and len(tablenames) != 2:
            raise ConfigError("db.tablenames", "expected two names: packages, summaries")
        if region is None and host is None:
            raise ConfigError("db.region_name", "set db.region_name or db.host")
        endpoint = None
        if host is not None:
            endpoint = host if "://" in host else f"http{'s' if secure else ''}://{host}:{port}"
        client = boto3.session.Session().client(
            "dynamodb",
            region_name=region or "us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=settings.str("db.aws_access_key_id"),
            aws_secret_access_key=settings.str("db.aws_secret_access_key"),
        )
        try:
            return cls(client, settings.str("db.namespace", "") or "", tablenames or None)
        except (BotoCoreError, ClientError) as exc:
            key = "db.host" if host else "db.region_name"
            raise ConfigError(key, f"cannot open the DynamoDB tables: {exc}") from exc

    # -- schema ------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the missing tables (PAY_PER_REQUEST); another server may race us to it."""
        strings = [{"AttributeName": "filename", "AttributeType": "S"}]
        specs: list[dict[str, Any]] = [
            {
                "TableName": self.packages,
                "KeySchema": [{"AttributeName": "filename", "KeyType": "HASH"}],
                "AttributeDefinitions": [
                    *strings,
                    {"AttributeName": "name", "AttributeType": "S"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "name-index",
                        "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
            {
                "TableName": self.summaries,
                "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
            },
            {
                "TableName": self.meta,
                "KeySchema": [{"AttributeName": "key", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "key", "AttributeType": "S"}],
            },
            {
                "TableName": self.changes,
                "KeySchema": [{"AttributeName": "filename", "KeyType": "HASH"}],
                "AttributeDefinitions": strings,
            },
        ]
        for spec in specs:
            ensure_table(self.client, spec)

    # -- reading -----------------------------------------------------------------------

    def _pages(self, method: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator(method).paginate(**kwargs):
            yield from page.get("Items", [])

    def fetch(self, filename: str) -> Package | None:
        found = self.client.get_item(
            TableName=self.packages, Key={"filename": {"S": filename}}, ConsistentRead=True
        )
        return item_to_package(found["Item"]) if "Item" in found else None

    def all(self, name: str) -> list[Package]:
        """Through ``name-index``, which has no consistent reads and may lag a write; so the
        project's summary row (read consistently, just before) is checked against it, and
        the query asked again (up to ``INDEX_TRIES`` times) while they disagree.

        The row knows the count, the newest file and the latest upload time: a lagging index
        still answering with the old data of a file replaced in place goes unnoticed (see
        the README), and an index lagging past the last try is served as it is."""
        items: list[dict[str, Any]] = []
        for tries in range(INDEX_TRIES):
            if tries:
                time.sleep(INDEX_PAUSE * tries)
            row = self._summary_row(name)
            items = list(
                self._pages(
                    "query",
                    TableName=self.packages,
                    IndexName="name-index",
                    KeyConditionExpression="#n = :n",
                    ExpressionAttributeNames={"#n": "name"},
                    ExpressionAttributeValues={":n": {"S": name}},
                )
            )
            if index_agrees(row, items):
                break
        return newest_first(item_to_package(item) for item in items)

    def all_packages(self) -> list[Package]:
        """A scan: for rebuilds only, never for a listing."""
        return [item_to_package(i) for i in self._pages("scan", TableName=self.packages)]

    def _summary_rows(self) -> list[dict[str, Any]]:
        return list(self._pages("scan", TableName=self.summaries, ConsistentRead=True))

    def distinct(self) -> list[str]:
        return sorted(row["name"]["S"] for row in self._summary_rows())

    def summary(self) -> list[ProjectSummary]:
        """From the summaries table; a row the original wrote (no ``stable``) asks its project."""
        rows = []
        for row in self._summary_rows():
            name = row["name"]["S"]
            if "stable" not in row:
                rows.extend(summarize(self.all(name)))
                continue
            rows.append(
                ProjectSummary(
                    name=name,
                    summary=row.get("summary", {}).get("S") or None,
                    stable=row["stable"]["S"],
                    last_modified=_when(row.get("last_modified")),
                )
            )
        return sorted(rows, key=lambda r: r.name)

    def serial(self) -> int:
        found = self.client.get_item(TableName=self.meta, Key=SERIAL, ConsistentRead=True)
        return int(found.get("Item", {}).get("value", {}).get("N", "0"))

    def core_metadata(self, filename: str) -> bytes | None:
        found = self.client.get_item(
            TableName=self.meta, Key=self._core_key(filename), ConsistentRead=True
        )
        return found["Item"]["content"]["B"] if "Item" in found else None

    # -- writing -----------------------------------------------------------------------

    @staticmethod
    def _core_key(filename: str) -> dict[str, Any]:
        return {"key": {"S": f"core_metadata:{filename}"}}

    def _bump(self, generation: int | None = None) -> dict[str, Any]:
        """ADD 1 to the serial; with a ``generation``, only while it is still the current one."""
        update: dict[str, Any] = {
            "TableName": self.meta,
            "Key": SERIAL,
            "UpdateExpression": "ADD #v :one",
            "ExpressionAttributeNames": {"#v": "value"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if generation is not None:
            update["ExpressionAttributeNames"]["#g"] = "generation"
            if generation:
                update["ConditionExpression"] = "#g = :g"
                update["ExpressionAttributeValues"][":g"] = {"N": str(generation)}
            else:
                update["ConditionExpression"] = "attribute_not_exists(#g)"
        return {"Update": update}

    def _current_generation(self) -> int:
        found = self.client.get_item(TableName=self.meta, Key=SERIAL, ConsistentRead=True)
        return int(found.get("Item", {}).get("generation", {}).get("N", "0"))

    def _changed(self, filename: str, *, deleted: bool) -> list[dict[str, Any] | None]:
        """The items that make a write a change a reload can see: the serial's ADD (under the
        generation noted) and the file's change item. One read of the generation per process
        until a reload moves it (the write is then cancelled and retried with the new one)."""
        generation = self.generation  # one read: another thread may reset it meanwhile
        if generation is None:
            generation = self.generation = self._current_generation()
        item = {
            "filename": {"S": filename},
            "generation": {"N": str(generation)},
            "deleted": {"BOOL": deleted},
        }
        return [self._bump(generation), {"Put": {"TableName": self.changes, "Item": item}}]

    def _unlocked(self) -> dict[str, Any]:
        """Fails while a reload holds the lock (unless its lease has run out)."""
        return {
            "ConditionCheck": {
                "TableName": self.meta,
                "Key": LOCK,
                "ConditionExpression": "attribute_not_exists(#k) OR #u < :now",
                "ExpressionAttributeNames": {"#k": "key", "#u": "until"},
                "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
            }
        }

    def _summary_write(
        self, name: str, old: dict[str, Any] | None, files: list[Package], added: int
    ):
        """Replace (or drop) the summary row, only if it is still the ``old`` we read;
        ``added`` files (1, 0 or -1) move its count (unknown stays unknown)."""
        if old is None:
            condition, values = "attribute_not_exists(#n)", {}
        elif "rev" in old:
            condition, values = "#r = :r", {":r": old["rev"]}
        else:
            condition, values = "attribute_exists(#n) AND attribute_not_exists(#r)", {}
        names = {k: v for k, v in (("#n", "name"), ("#r", "rev")) if k in condition}
        guard: dict[str, Any] = {"ConditionExpression": condition}
        guard["ExpressionAttributeNames"] = names
        if values:
            guard["ExpressionAttributeValues"] = values
        rev = int(old["rev"]["N"]) + 1 if old and "rev" in old else fresh_rev()
        if not files:
            if old is None:
                return None
            return {"Delete": {"TableName": self.summaries, "Key": {"name": {"S": name}}, **guard}}
        count = None
        if old is None:
            count = added
        elif "count" in old:
            count = int(old["count"]["N"]) + added
        item = summary_item(name, files, rev, count)
        return {"Put": {"TableName": self.summaries, "Item": item, **guard}}

    def _transact(self, items: list[dict[str, Any] | None]) -> None:
        try:
            self.client.transact_write_items(TransactItems=[i for i in items if i])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            self.generation = None  # perhaps a reload moved it: read it again
            raise Cancelled([r.get("Code", "None") for r in reasons]) from None

    def _retrying(self, attempt: Callable[[], None]) -> None:
        """Run ``attempt`` until no concurrent writer or reload got in its way."""
        for tries in range(200):
            try:
                attempt()
                return
            except Cancelled:
                time.sleep(min(0.5, 0.005 * (tries + 1)))
        raise RuntimeError("the package database stayed busy; try again")

    def _summary_row(self, name: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self.summaries, Key={"name": {"S": name}}, ConsistentRead=True
        )
        return found.get("Item")

    def _files_with(
        self, name: str, row: dict[str, Any] | None, package: Package, existed: bool
    ) -> list[Package]:
        """The project's files after putting ``package``; from the row when it has enough
        (a new file: a replaced one may have been the newest, so its project is read)."""
        if not existed and row is not None and "stable_filename" in row and row["stable"]["S"]:
            stand_in = Package(
                name,
                row["stable"]["S"],
                row["stable_filename"]["S"],
                _when(row.get("last_modified")),
                row.get("summary", {}).get("S") or None,
            )
            if stand_in.filename != package.filename:
                return [stand_in, package]
        return [p for p in self.all(name) if p.filename != package.filename] + [package]

    def _put(self, package: Package, *, exclusive: bool) -> None:
        def attempt() -> None:
            row = self._summary_row(package.name)
            # Whether the file is new moves the row's count; the put is conditioned on it.
            existed = not exclusive and self.fetch(package.filename) is not None
            put: dict[str, Any] = {"TableName": self.packages, "Item": package_to_item(package)}
            put["ConditionExpression"] = (
                "attribute_exists(filename)" if existed else "attribute_not_exists(filename)"
            )
            try:
                self._transact(
                    [
                        {"Put": put},
                        self._summary_write(
                            package.name,
                            row,
                            self._files_with(package.name, row, package, existed),
                            0 if existed else 1,
                        ),
                        *self._changed(package.filename, deleted=False),
                        self._unlocked(),
                    ]
                )
            except Cancelled as exc:
                if exclusive and exc.reasons[:1] == ["ConditionalCheckFailed"]:
                    raise AlreadyCached(package.filename) from None
                raise

        self._retrying(attempt)

    def add(self, package: Package) -> None:
        self._put(package, exclusive=True)

    def save(self, package: Package) -> None:
        self._put(package, exclusive=False)

    def delete(self, package: Package) -> None:
        def attempt() -> None:
            row = self._summary_row(package.name)
            rest = [p for p in self.all(package.name) if p.filename != package.filename]
            key = {"filename": {"S": package.filename}}
            existed = self.fetch(package.filename) is not None
            condition = "attribute_exists(#f)" if existed else "attribute_not_exists(#f)"
            drop = {
                "TableName": self.packages,
                "Key": key,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#f": "filename"},
            }
            self._transact(
                [
                    {"Delete": drop},
                    {"Delete": {"TableName": self.meta, "Key": self._core_key(package.filename)}},
                    self._summary_write(package.name, row, rest, -1 if existed else 0),
                    *self._changed(package.filename, deleted=True),
                    self._unlocked(),
                ]
            )

        self._retrying(attempt)

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        """A fill, not a change (no serial bump); too large a one is dropped, not stored."""
        if len(content) > self.max_core_metadata:
            self.client.delete_item(TableName=self.meta, Key=self._core_key(filename))
            return
        item = {**self._core_key(filename), "content": {"B": content}}
        self.client.put_item(TableName=self.meta, Item=item)

    # -- reload ------------------------------------------------------------------------

    def _lock(self) -> str:
        """Take the reload lock: writers wait while it is held (until its lease runs out)."""
        owner = uuid.uuid4().hex
        for tries in range(600):
            now = int(time.time())
            try:
                self.client.put_item(
                    TableName=self.meta,
                    Item={**LOCK, "owner": {"S": owner}, "until": {"N": str(now + LOCK_SECONDS)}},
                    ConditionExpression="attribute_not_exists(#k) OR #u < :now",
                    ExpressionAttributeNames={"#k": "key", "#u": "until"},
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
                return owner
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                time.sleep(min(0.5, 0.01 * (tries + 1)))
        raise RuntimeError("another reload holds the package database")

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        """A conditional put of a lock item beside the reload lock, in the same table: it
        succeeds when the item is absent, expired, or already ours (an extension)."""
        now = int(time.time() * 1000)
        try:
            self.client.put_item(
                TableName=self.meta,
                Item={
                    "key": {"S": f"lock:{name}"},
                    "owner": {"S": owner},
                    "until_ms": {"N": str(now + int(seconds * 1000))},
                },
                ConditionExpression="attribute_not_exists(#k) OR #u < :now OR #o = :o",
                ExpressionAttributeNames={"#k": "key", "#u": "until_ms", "#o": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":o": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def save_state(self, name: str, value: str) -> None:
        """An item of the meta table, beside the locks."""
        self.client.put_item(
            TableName=self.meta, Item={"key": {"S": f"state:{name}"}, "value": {"S": value}}
        )

    def state(self, name: str) -> str | None:
        item = self.client.get_item(
            TableName=self.meta, Key={"key": {"S": f"state:{name}"}}, ConsistentRead=True
        ).get("Item")
        return item["value"]["S"] if item else None

    @staticmethod
    def _status_key(name: str) -> dict[str, Any]:
        return {"key": {"S": f"project_status:{name}"}}

    def project_status(self, name: str) -> str | None:
        item = self.client.get_item(
            TableName=self.meta, Key=self._status_key(name), ConsistentRead=True
        ).get("Item")
        return item["value"]["S"] if item else None

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        """BatchGetItem, STATUS_BATCH keys a call (DynamoDB's limit), consistent reads; keys
        the service left unprocessed (throttled) are asked again."""
        keys = [self._status_key(name) for name in dict.fromkeys(names)]
        found: dict[str, str] = {}
        for start in range(0, len(keys), STATUS_BATCH):
            pending: dict[str, Any] = {
                self.meta: {"Keys": keys[start : start + STATUS_BATCH], "ConsistentRead": True}
            }
            while pending:
                answer = self.client.batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self.meta, []):
                    found[item["key"]["S"].removeprefix("project_status:")] = item["value"]["S"]
                pending = answer.get("UnprocessedKeys") or {}
        return found

    def save_project_status(self, name: str, value: str | None) -> None:
        """The item and the serial's ADD in one transaction (a reload's lock does not
        matter: a reload never touches statuses)."""
        if value is None:
            change: dict[str, Any] = {
                "Delete": {"TableName": self.meta, "Key": self._status_key(name)}
            }
        else:
            item = {**self._status_key(name), "value": {"S": value}}
            change = {"Put": {"TableName": self.meta, "Item": item}}
        self._retrying(lambda: self._transact([change, self._bump()]))

    def unlock(self, name: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.meta,
                Key={"key": {"S": f"lock:{name}"}},
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _batch(self, table: str, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending = {table: requests[start : start + 25]}
            while pending:
                answer = self.client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}

    def _reload_by_diff(self, stored: dict[str, Package]) -> None:
        """Write what changed, drop what is gone, keep the rest: never an empty moment."""
        cached = {p.filename: p for p in self.all_packages()}
        changed = [p for f, p in stored.items() if cached.get(f) != p]
        gone = [f for f in cached if f not in stored]
        self._batch(self.packages, [{"PutRequest": {"Item": package_to_item(p)}} for p in changed])
        self._batch(
            self.packages, [{"DeleteRequest": {"Key": {"filename": {"S": f}}}} for f in gone]
        )
        self._batch(self.meta, [{"DeleteRequest": {"Key": self._core_key(f)}} for f in gone])
        by_name: dict[str, list[Package]] = {}
        for package in stored.values():
            by_name.setdefault(package.name, []).append(package)
        touched = {p.name for p in changed}
        self._batch(
            self.summaries,
            [{"PutRequest": {"Item": summary_item(n, by_name[n], fresh_rev())}} for n in touched],
        )
        stale = [n for n in self.distinct() if n not in by_name]
        self._batch(self.summaries, [{"DeleteRequest": {"Key": {"name": {"S": n}}}} for n in stale])

    def _begin_listing(self) -> int:
        """Move the reload generation: every write that commits from now on carries it."""
        answer = self.client.update_item(
            TableName=self.meta,
            Key=SERIAL,
            UpdateExpression="ADD #g :one",
            ExpressionAttributeNames={"#g": "generation"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["generation"]["N"])

    def _keep_recent_writes(self, stored: dict[str, Package], began: int) -> None:
        """Files written since generation ``began`` take their current record (or stay
        deleted): the listing may have passed them already. The change items up to
        ``began`` are dropped after (a later reload moves the generation past them; one of a
        later generation belongs to a listing still running); the table holds only the
        writes since the last reload, so this scan is small."""
        items = list(self._pages("scan", TableName=self.changes, ConsistentRead=True))
        done = []
        for item in items:
            generation = int(item["generation"]["N"])
            if generation >= began:
                filename = item["filename"]["S"]
                current = self.fetch(filename)
                if current is None:
                    stored.pop(filename, None)
                else:
                    stored[filename] = current
            if generation <= began:
                done.append({"DeleteRequest": {"Key": {"filename": item["filename"]}}})
        self._batch(self.changes, done)

    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int:
        """Under the lock (writers wait); ``graceful`` diffs instead of emptying the tables.

        Files any process wrote after the listing began keep their current record (or stay
        deleted), as on SQL and Redis."""
        began = self._begin_listing()  # before the first file is listed
        stored = {p.filename: p for p in packages}
        owner = self._lock()
        try:
            self._keep_recent_writes(stored, began)
            if graceful:
                self._reload_by_diff(stored)
                return len(stored)
            known = [i["filename"]["S"] for i in self._pages("scan", TableName=self.packages)]
            names = [row["name"]["S"] for row in self._summary_rows()]
            self._batch(
                self.packages,
                [{"DeleteRequest": {"Key": {"filename": {"S": f}}}} for f in known],
            )
            gone = [f for f in known if f not in stored]
            self._batch(self.meta, [{"DeleteRequest": {"Key": self._core_key(f)}} for f in gone])
            self._batch(
                self.summaries, [{"DeleteRequest": {"Key": {"name": {"S": n}}}} for n in names]
            )
            self._batch(
                self.packages,
                [{"PutRequest": {"Item": package_to_item(p)}} for p in stored.values()],
            )
            by_name: dict[str, list[Package]] = {}
            for package in stored.values():
                by_name.setdefault(package.name, []).append(package)
            self._batch(
                self.summaries,
                [
                    {"PutRequest": {"Item": summary_item(n, f, fresh_rev())}}
                    for n, f in by_name.items()
                ],
            )
        finally:
            self._unlock(owner)
        return len(stored)

    def _unlock(self, owner: str) -> None:
        """Release the reload lock and bump the serial: the reload's result is one change."""
        self.client.transact_write_items(
            TransactItems=[
                self._bump(),
                {
                    "Delete": {
                        "TableName": self.meta,
                        "Key": LOCK,
                        "ConditionExpression": "#o = :o",
                        "ExpressionAttributeNames": {"#o": "owner"},
                        "ExpressionAttributeValues": {":o": {"S": owner}},
                    }
                },
            ]
        )


if TYPE_CHECKING:
    _conforms: type[Cache] = DynamoCache  # mypy checks the class against the Protocol here
