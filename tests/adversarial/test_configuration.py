"""Every documented setting, given a malformed value, stops start-up with one line naming it.

The documented keys are taken from README.rst (every ``pypi.*``, ``storage.*``, ``db.*``,
``auth.*``, ``session.*``, ``pyramid.*`` and ``sync.*`` key it mentions) and from what the
code reads through ``Settings``; each must have a bad value below, or be listed in
``CANNOT_BE_BAD`` with the reason. A key documented tomorrow without either fails
``test_every_key_is_covered``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pypicloud import make_config
from pypicloud.settings import TOLERATED_KEYS, ConfigError
from tests.e2e.conftest import write_ini
from tests.functional.conftest import base_settings
from tests.tools import ROOT, free_port, venv_tool

NOWHERE = "http://127.0.0.1:9"  # nothing listens there: no test reaches a network
S3: dict[str, str | None] = {
    "storage.dir": None,
    "pypi.storage": "s3",
    "storage.bucket": "bucket",
    "storage.endpoint_url": NOWHERE,
    "storage.region_name": "us-east-1",
    "storage.aws_access_key_id": "x",
    "storage.aws_secret_access_key": "y",
}
CLOUDFRONT = {**S3, "pypi.storage": "cloudfront", "storage.cloud_front_domain": "https://x.invalid"}
GCS: dict[str, str | None] = {
    "storage.dir": None,
    "pypi.storage": "gcs",
    "storage.bucket": "bucket",
    "storage.gcp_api_endpoint": NOWHERE,
}
AZURE: dict[str, str | None] = {
    "storage.dir": None,
    "pypi.storage": "azure-blob",
    "storage.storage_account_name": "account",
    "storage.storage_account_key": "a2V5",
    "storage.storage_container_name": "container",
    "storage.storage_account_url": NOWHERE + "/account",
}
REDIS = {"pypi.db": "redis", "db.url": "redis://127.0.0.1:9/0"}
DYNAMO = {
    "pypi.db": "dynamo",
    "db.host": "127.0.0.1",
    "db.port": "9",
    "db.region_name": "us-east-1",
    "db.aws_access_key_id": "x",
    "db.aws_secret_access_key": "y",
}
LDAP = {
    "pypi.auth": "ldap",
    "auth.ldap.url": "ldap://127.0.0.1:9",
    "auth.ldap.service_dn": "cn=admin,dc=example,dc=org",
    "auth.ldap.service_password": "x",
    "auth.ldap.base_dn": "ou=people,dc=example,dc=org",
    "auth.ldap.user_search_filter": "(uid={username})",
}
REMOTE = {"pypi.auth": "remote", "auth.backend_server": NOWHERE}
SECRETS = {
    "pypi.auth": "aws_secrets_manager",
    "auth.secret_id": "pypi",
    "auth.region_name": "us-east-1",
    "auth.endpoint_url": NOWHERE,
    "auth.aws_access_key_id": "x",
    "auth.aws_secret_access_key": "y",
}
SQL_AUTH = {"pypi.auth": "sql"}

#: key -> (a malformed value, the settings that make the key matter)
BAD_VALUES: dict[str, tuple[str, dict[str, str | None]]] = {
    "pypi.storage": ("floppy", {}),
    "pypi.db": ("nosuch.module:Cache", {}),
    "pypi.auth": ("ldapish", {}),
    "pypi.allow_overwrite": ("maybe", {}),
    "pypi.allow_delete": ("perhaps", {}),
    "pypi.max_upload_size": ("lots", {}),
    "pypi.stream_files": ("2", {}),
    "pypi.calculate_package_hashes": ("yes please", {}),
    "pyramid.cache_max_age": ("-5", {}),
    "storage.dir": ("/dev/null/packages", {}),
    "storage.redirect_urls": ("sometimes", S3),
    "storage.prepend_hash": ("maybe", S3),
    "storage.expire_after": ("soon", S3),
    "storage.public_url": ("maybe", S3),
    "storage.bucket": ("", S3),
    "storage.endpoint_url": ("not a url", S3),
    "storage.region_name": ("bad region!", S3),
    "storage.object_acl": ("everyone-may-write", S3),
    "storage.server_side_encryption": ("rot13", S3),
    "storage.sse_kms_key_id": ("alias/x", S3),  # without server_side_encryption = aws:kms
    "storage.storage_class": ("FLOPPY", S3),
    "storage.aws_session_token": (
        "t",
        {**S3, "storage.aws_access_key_id": None, "storage.aws_secret_access_key": None},
    ),
    "storage.aws_access_key_id": ("", {**S3, "storage.aws_access_key_id": "x"}),
    "storage.connect_timeout": ("slow", S3),
    "storage.retries": ("{not json", S3),
    "storage.addressing_style": ("sideways", S3),
    "storage.cloud_front_key_file": ("/nonexistent/key.pem", CLOUDFRONT),
    "storage.cloud_front_key_string": ("not a key", CLOUDFRONT),
    "storage.cloud_front_domain": ("", CLOUDFRONT),
    "storage.gcp_use_iam_signer": ("maybe", GCS),
    "storage.gcp_service_account_json_filename": ("/nonexistent/key.json", GCS),
    "storage.storage_account_key": ("not base64!", AZURE),
    "storage.storage_container_name": ("", AZURE),
    "storage.storage_account_name": ("", AZURE),
    "db.url": ("nosuchdialect://x", {}),
    "db.reload_on_start": ("maybe", {}),
    "db.graceful_reload": ("maybe", {}),
    "db.clustered": ("maybe", REDIS),
    "db.port": ("eighty", DYNAMO),
    "db.secure": ("maybe", DYNAMO),
    "db.tablenames": ("only-one", DYNAMO),
    "db.region_name": ("", {**DYNAMO, "db.host": ""}),
    "auth.cache_seconds": ("-1", {}),
    "auth.recheck_seconds": ("often", {}),
    "auth.scheme": ("rot13", {}),
    "auth.rounds": ("many", {}),
    "auth.signing_key": ("short", {}),
    "auth.token_expire": ("forever", {}),
    "auth.db.url": ("nosuchdialect://x", SQL_AUTH),
    "auth.ldap.url": ("", LDAP),
    "auth.ldap.timeout": ("slow", LDAP),
    "auth.ldap.cache_time": ("long", LDAP),
    "auth.ldap.ignore_cert": ("maybe", LDAP),
    "auth.ldap.ignore_referrals": ("maybe", LDAP),
    "auth.ldap.ignore_multiple_results": ("maybe", LDAP),
    "auth.ldap.fallback": ("sideways", LDAP),
    "auth.ldap.user_dn_format": ("uid=nobody", {**LDAP, "auth.ldap.user_search_filter": ""}),
    "auth.ldap.user_search_filter": ("(uid=nobody)", LDAP),
    "auth.ldap.service_dn": ("", {**LDAP, "auth.ldap.service_password": "x"}),
    "auth.backend_server": ("not a url", REMOTE),
    "auth.remote.cache_time": ("long", REMOTE),
    "auth.remote.timeout": ("slow", REMOTE),
    **{
        f"auth.uri.{name}": ("no-leading-slash", REMOTE)
        for name in (
            "verify",
            "groups",
            "admin",
            "user_data",
            "user_package_permissions",
            "group_package_permissions",
            "group_members",
            "user_permissions",
            "group_permissions",
            "all_permissions",
        )
    },
    "auth.secret_id": ("", SECRETS),
    "auth.endpoint_url": ("not a url", SECRETS),
    "auth.region_name": ("bad region!", SECRETS),
    "auth.aws_access_key_id": ("", SECRETS),  # one half of a key without the other
    "auth.aws_secret_access_key": ("", SECRETS),
    "session.validate_key": ("short", {}),
    "session.max_age": ("a week", {}),
    "session.secure": ("maybe", {}),
    "db.echo": ("loud", {}),
    "db.max_overflow": ("lots", {}),
    "db.pool_pre_ping": ("maybe", {}),
    "db.pool_recycle": ("hourly", {}),
    "db.pool_size": ("many", {}),
    "db.pool_timeout": ("forever", {}),
    "db.poolclass": ("NoSuchPool", {}),
    "db.serial_cache_ms": ("-5", {}),
    "pypi.fallback": ("sometimes", {}),
    "pypi.fallback_url": ("not a url", {}),
    "pypi.fallback_base_url": ("ftp://example.org", {}),
    "pypi.always_show_upstream": ("maybe", {}),
    "pypi.fallback_min_age": ("soon", {}),
    "pypi.fallback_timeout": ("-1", {}),
    "pypi.package_max_age": ("-5", {}),
    "pypi.fast_path": ("maybe", {}),
    "pypi.attestations_verify": ("maybe", {}),
    "pypi.attestations_trusted_root": ("/nonexistent/trusted_root.json", {}),
    "pypi.attestations_issuers": ("http://insecure.example", {}),
    "pypi.index_max_age": ("-1", {}),
    "pypi.index_stale_while_revalidate": ("-1", {}),
    "pypi.metrics": ("sometimes", {}),
    "pypi.metrics_token": ("short", {"pypi.metrics": "token"}),
    "pypi.production": ("maybe", {}),
    "pypi.audit_retention_days": ("-1", {}),
    "storage.accel_redirect": ("relative/path", {}),
    "sync.queue_url": ("not a url", {}),
    "sync.queue_name": ("has spaces", {}),
    "sync.region_name": ("bad region!", {}),
    "sync.endpoint_url": ("not a url", {}),
    "sync.wait_seconds": ("30", {}),  # SQS long polling waits 20 seconds at most
    "sync.batch_size": ("11", {}),  # SQS receives and deletes 10 at most
    "sync.retry_seconds": ("soon", {}),
    "sync.max_receives": ("-1", {}),
    "sync.reconcile_seconds": ("hourly", {}),
    "pypi.retention": ("* keep=all", {}),
    "pypi.retention_interval": ("daily", {"pypi.retention": "* keep=5"}),
    "pypi.trusted_publishing": ("maybe", {}),
    "pypi.oidc_audience": ("two words", {}),
    "pypi.oidc_token_lifetime": ("30", {}),
    "pypi.oidc_leeway": ("301", {}),
    "pypi.oidc_fetch_timeout": ("0", {}),
    "pypi.oidc_keys_cache_seconds": ("-1", {}),
    "pypi.oidc_allow_http": ("maybe", {}),
}

#: Documented keys no value can make malformed, and why.
CANNOT_BE_BAD: dict[str, str] = {
    "pypi.default_read": "any words are group names",
    "pypi.default_write": "any words are group names",
    "pypi.allow_overwrite_groups": "any words are group names",
    "pypi.allow_delete_groups": "any words are group names",
    "pypi.realm": "any text is a realm (quotes are dropped)",
    "auth.admins": "any words are user names (an unknown one is warned about)",
    "storage.prefix": "any text is a key prefix",
    "storage.aws_secret_access_key": "any text is a secret (checked by the store)",
    "storage.signature_version": "a botocore option botocore checks at the first signed request",
    "storage.gcp_project_id": "any text is a project id (checked by Google)",
    "storage.gcp_api_endpoint": "any URL; an unreachable one shows in /health",
    "storage.storage_account_url": "any URL; an unreachable one shows in /health",
    "storage.cloud_front_key_id": "any text is a key id (checked by CloudFront)",
    "db.namespace": "any text is a table prefix",
    "db.redis_prefix": "any text is a key prefix",
    "db.aws_access_key_id": "any text is a key id (checked by AWS)",
    "db.aws_secret_access_key": "any text is a secret (checked by AWS)",
    "db.host": "any host name; an unreachable one shows in /health",
    "auth.user": "any text is a user name for the remote server",
    "auth.password": "any text is a password",
    "auth.kms_key_id": "checked by AWS when the secret is created",
    "auth.profile_name": "checked by boto3 when credentials are needed",
    "auth.aws_session_token": "any text is a token (checked by AWS)",
    "auth.ldap.base_dn": "any text is a DN (checked by the server)",
    "auth.ldap.group_base_dn": "any text is a DN (checked by the server)",
    "auth.ldap.group_search_filter": "checked by the server",
    "auth.ldap.admin_field": "any attribute name",
    "auth.ldap.admin_value": "any text",
    "auth.ldap.admin_group_dn": "any text is a DN",
    "auth.ldap.service_password": "any text is a password",
    "auth.ldap.service_username": "any text is a user name",
    "pypi.cache_update": "any words are group names",
    "pypi.disallow_fallback": "any words are names or glob patterns",
    "pypi.fallback_allow": "any words are names or glob patterns",
    "pypi.fallback_min_age_exempt": "any words are names or glob patterns",
    "session.encrypt_key": "accepted for compatibility and unused (README: tolerated)",
    **{key: "accepted for compatibility, not acted on" for key in TOLERATED_KEYS},
}

DOCUMENTED = re.compile(
    r"``((?:pypi|storage|db|auth|session|pyramid|sync)\.[a-z0-9_.]*[a-z0-9_])``"
)
READ_IN_CODE = re.compile(
    r"settings\.(?:str|bool|int|size|list|choice|get|mark_read)\(\s*\"((?:pypi|storage|db|auth|"
    r"session|pyramid|sync)\.[a-z0-9_.]+)\""
)


def documented_keys() -> set[str]:
    keys = set(DOCUMENTED.findall((ROOT / "README.rst").read_text()))
    for path in (ROOT / "pypicloud").rglob("*.py"):
        keys |= set(READ_IN_CODE.findall(path.read_text()))
    # Families documented by their pattern, not one key each.
    return {k for k in keys if not k.endswith((".<name>", "."))}


def test_every_key_is_covered():
    missing = sorted(documented_keys() - set(BAD_VALUES) - set(CANNOT_BE_BAD))
    assert not missing, (
        f"give these a bad value in BAD_VALUES or a reason in CANNOT_BE_BAD: {missing}"
    )


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_a_bad_value_stops_start_up_naming_the_key(tmp_path, key):
    value, context = BAD_VALUES[key]
    settings = {**base_settings(tmp_path), **context, key: value}
    settings = {k: v for k, v in settings.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        make_config(settings, here=str(tmp_path), environ={})
    message = str(error.value)
    assert key in message and "\n" not in message, message


def test_pserve_says_it_in_one_line(tmp_path):
    port = free_port()
    ini = tmp_path / "bad.ini"
    write_ini(ini, port, {"pypi.allow_overwrite": "maybe"})
    result = subprocess.run(
        [venv_tool("pserve"), str(ini)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output, output
    last = output.splitlines()[-1]
    assert "pypi.allow_overwrite" in last and "expected true or false" in last, output


def test_documented_keys_are_found(tmp_path):
    keys = documented_keys()
    assert {"pypi.storage", "storage.dir", "db.url", "session.validate_key"} <= keys
    assert Path(ROOT / "README.rst").exists()
