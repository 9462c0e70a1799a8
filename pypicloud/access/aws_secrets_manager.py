"""Users, groups and grants in one AWS Secrets Manager secret (``pypi.auth = aws_secrets_manager``).

Needs boto3 (``pip install 'pypicloud[s3]'``). The secret holds one JSON document in the
original pypicloud's layout (``acl_json``), so a secret it wrote keeps working. Each process
keeps the facts of the version it last read; ``version()`` asks DescribeSecret which version
is AWSCURRENT (the evaluator asks at most once per ``auth.recheck_seconds``) and re-reads
when it moved, so a change made by any process reaches the others within that bound.

Writers never lose each other's changes. PutSecretValue has no condition, but moving the
AWSCURRENT label does: UpdateSecretVersionStage with ``RemoveFromVersionId`` fails unless
that version still holds the label. A change therefore reads the current version, applies
the edit, puts the result as a new version labelled only ``PYPICLOUD_PENDING``, and moves
AWSCURRENT from the version it read to the new one. When another writer moved it first,
the change is read and applied again (bounded retries, jittered backoff). A missing secret
is created on the first write (CreateSecret fails if another writer created it meanwhile,
which is the same kind of conflict).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoRegionError,
    ProfileNotFound,
)

from pypicloud.access import acl_json
from pypicloud.access.acl_json import Document, Snapshot
from pypicloud.access.base import Grants, Mode, UserFacts
from pypicloud.access.passwords import dummy_verify, verify_password
from pypicloud.settings import ConfigError, Settings

log = logging.getLogger(__name__)

CURRENT = "AWSCURRENT"
PENDING = "PYPICLOUD_PENDING"
MAX_ATTEMPTS = 20
MAX_SECRET_BYTES = 65536  # the Secrets Manager limit of one SecretString
SESSION_KEYS = (
    "region_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "profile_name",
)


class SecretError(RuntimeError):
    """The secret could not be read or written; the message names it."""


class AWSSecretsManagerAccess:
    """A ``MutableAccess`` over one secret; thread-safe (a boto3 client and two locks)."""

    def __init__(self, client: Any, secret_id: str, kms_key_id: str | None = None) -> None:
        self.client = client
        self.secret_id = secret_id
        self.kms_key_id = kms_key_id
        self._lock = threading.Lock()  # guards the snapshot and its version
        self._write_lock = threading.Lock()  # one writer per process; CAS between processes
        self._snapshot: Snapshot | None = None
        self._version_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AWSSecretsManagerAccess:
        secret_id = settings.str("auth.secret_id", required=True)
        assert secret_id is not None
        return cls(client_from_settings(settings), secret_id, settings.str("auth.kms_key_id"))

    # -- AccessBackend -----------------------------------------------------------------

    def verify_user(self, username: str, password: str) -> bool:
        try:
            hashed = self._facts().passwords.get(username)
        except SecretError as exc:
            log.error("%s", exc)
            hashed = None
        if hashed is None:
            dummy_verify()  # unknown and pending users cost as much as a wrong password
            return False
        return verify_password(password, hashed)

    def user(self, username: str) -> UserFacts | None:
        try:
            return self._facts().facts.get(username)
        except SecretError as exc:
            log.error("%s", exc)
            return None

    def grants(self) -> Grants:
        return self._facts().grants  # no safe answer without them: the request fails

    def version(self) -> int:
        try:
            current = self._current_version_id()
            if current != self._version_id or self._snapshot is None:
                self._reload()
        except SecretError as exc:
            log.error("%s", exc)
        return _number(self._version_id)

    def check_health(self) -> tuple[bool, str]:
        try:
            if self._current_version_id() is None:
                return True, f"secret {self.secret_id!r} does not exist yet"
        except SecretError as exc:
            return False, str(exc)
        return True, ""

    # -- MutableAccess: reads ----------------------------------------------------------

    def pending_users(self) -> list[str]:
        return sorted(self._facts().pending)

    def users(self) -> list[UserFacts]:
        facts = self._facts().facts
        return [facts[name] for name in sorted(facts)]

    def groups(self) -> dict[str, frozenset[str]]:
        return dict(self._facts().members)

    def allow_register(self) -> bool:
        return self._facts().allow_register

    def password_hash(self, username: str) -> str | None:
        """The stored hash, approved or pending (for ``ppc-export``); None when unknown."""
        snapshot = self._facts()
        return snapshot.passwords.get(username) or snapshot.pending.get(username)

    # -- MutableAccess: changes (each one conditional write) ---------------------------

    def create_user(
        self, username: str, password_hash: str, *, admin: bool = False, pending: bool = False
    ) -> None:
        self._change(
            functools.partial(
                acl_json.create_user,
                username=username,
                password_hash=password_hash,
                admin=admin,
                pending=pending,
            )
        )

    def delete_user(self, username: str) -> None:
        self._change(functools.partial(acl_json.delete_user, username=username))

    def set_password(self, username: str, password_hash: str) -> None:
        self._change(
            functools.partial(acl_json.set_password, username=username, password_hash=password_hash)
        )

    def set_admin(self, username: str, admin: bool) -> None:
        self._change(functools.partial(acl_json.set_admin, username=username, admin=admin))

    def approve_user(self, username: str) -> None:
        self._change(functools.partial(acl_json.approve_user, username=username))

    def create_group(self, group: str) -> None:
        self._change(functools.partial(acl_json.create_group, group=group))

    def delete_group(self, group: str) -> None:
        self._change(functools.partial(acl_json.delete_group, group=group))

    def add_member(self, group: str, username: str) -> None:
        self._change(functools.partial(acl_json.add_member, group=group, username=username))

    def remove_member(self, group: str, username: str) -> None:
        self._change(functools.partial(acl_json.remove_member, group=group, username=username))

    def set_grant(self, project: str, principal: str, mode: Mode | None) -> None:
        self._change(
            functools.partial(acl_json.set_grant, project=project, principal=principal, mode=mode)
        )

    def set_allow_register(self, allow: bool) -> None:
        self._change(functools.partial(acl_json.set_allow_register, allow=allow))

    # -- reading -----------------------------------------------------------------------

    def _facts(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._reload()
        return snapshot

    def _reload(self) -> Snapshot:
        doc, version_id, _ = self._read()
        snapshot = Snapshot.of(doc)
        with self._lock:
            self._snapshot, self._version_id = snapshot, version_id
        return snapshot

    def _read(self) -> tuple[Document, str | None, bool]:
        """The current document, its VersionId (None without a value) and whether the
        secret exists."""
        with self._errors("read"):
            try:
                answer = self.client.get_secret_value(SecretId=self.secret_id, VersionStage=CURRENT)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                # No such secret, or a secret created without a value (by Terraform, say).
                return acl_json.normalized({}), None, self._exists()
        text = answer.get("SecretString")
        if text is None and answer.get("SecretBinary") is not None:
            text = bytes(answer["SecretBinary"]).decode("utf-8")
        try:
            return acl_json.normalized(json.loads(text or "{}")), answer["VersionId"], True
        except ValueError as exc:
            raise SecretError(
                f"secret {self.secret_id!r} is not a valid access document: {exc}"
            ) from None

    def _exists(self) -> bool:
        try:
            self.client.describe_secret(SecretId=self.secret_id)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _current_version_id(self) -> str | None:
        with self._errors("describe"):
            try:
                answer = self.client.describe_secret(SecretId=self.secret_id)
            except ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":
                    return None
                raise
        for version_id, stages in (answer.get("VersionIdsToStages") or {}).items():
            if CURRENT in stages:
                return str(version_id)
        return None

    # -- writing -----------------------------------------------------------------------

    def _change(self, edit: Callable[[Document], None]) -> None:
        """Apply ``edit`` to the current document and write it, re-applying on conflict."""
        with self._write_lock:
            for attempt in range(MAX_ATTEMPTS):
                doc, version_id, exists = self._read()
                before = json.dumps(doc, sort_keys=True)
                edit(doc)  # KeyError / ValueError: nothing written
                if json.dumps(doc, sort_keys=True) == before:
                    return  # nothing changed: no new version
                written = self._write(doc, version_id, exists)
                if written is not None:
                    with self._lock:
                        self._snapshot, self._version_id = Snapshot.of(doc), written
                    return
                time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
        raise SecretError(
            f"secret {self.secret_id!r}: gave up after {MAX_ATTEMPTS} concurrent changes"
        )

    def _write(self, doc: Document, version_id: str | None, exists: bool) -> str | None:
        """The new VersionId, or None when another writer changed the secret first."""
        body = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        if len(body.encode()) > MAX_SECRET_BYTES:
            raise SecretError(f"secret {self.secret_id!r} would exceed {MAX_SECRET_BYTES} bytes")
        token = str(uuid.uuid4())
        with self._errors("write"):
            if not exists:
                return self._create(body, token)
            self.client.put_secret_value(
                SecretId=self.secret_id,
                SecretString=body,
                ClientRequestToken=token,
                VersionStages=[PENDING],
            )
            if version_id is None:
                # A secret's first version gets AWSCURRENT; ours unless another writer's did.
                return token if self._current_version_id() == token else None
            try:
                self.client.update_secret_version_stage(
                    SecretId=self.secret_id,
                    VersionStage=CURRENT,
                    MoveToVersionId=token,
                    RemoveFromVersionId=version_id,
                )
            except ClientError as exc:
                if _code(exc) == "InvalidParameterException":
                    return None  # version_id is no longer AWSCURRENT
                raise
        return token

    def _create(self, body: str, token: str) -> str | None:
        options = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
        try:
            self.client.create_secret(
                Name=self.secret_id, SecretString=body, ClientRequestToken=token, **options
            )
        except ClientError as exc:
            if _code(exc) == "ResourceExistsException":
                return None
            raise
        return token

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Boto errors as ``SecretError`` naming the secret and what failed."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise SecretError(f"secret {self.secret_id!r}: cannot {action}: {exc}") from exc


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _number(version_id: str | None) -> int:
    """A VersionId as the int ``version()`` returns, equal in every process."""
    if version_id is None:
        return 0
    return int.from_bytes(hashlib.sha256(version_id.encode()).digest()[:7], "big")


def client_from_settings(settings: Settings) -> Any:
    """A Secrets Manager client from ``auth.*`` (else the standard AWS credential chain)."""
    options = {key: settings.str(f"auth.{key}") for key in SESSION_KEYS}
    if bool(options["aws_access_key_id"]) != bool(options["aws_secret_access_key"]):
        missing = "aws_secret_access_key" if options["aws_access_key_id"] else "aws_access_key_id"
        raise ConfigError(f"auth.{missing}", "is required with the other half of the key")
    endpoint_url = settings.str("auth.endpoint_url")
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise ConfigError("auth.endpoint_url", f"expected an http(s) URL, got {endpoint_url!r}")
    try:
        # A session of our own: boto3's default session is not safe to share across threads.
        session = boto3.session.Session(**{k: v for k, v in options.items() if v})
    except ProfileNotFound as exc:
        raise ConfigError("auth.profile_name", str(exc)) from None
    config = Config(
        connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
    )
    try:
        return session.client("secretsmanager", endpoint_url=endpoint_url, config=config)
    except InvalidRegionError as exc:
        raise ConfigError("auth.region_name", str(exc)) from None
    except NoRegionError:
        raise ConfigError(
            "auth.region_name", "is required (or the AWS_DEFAULT_REGION environment variable)"
        ) from None
