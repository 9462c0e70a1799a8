"""Access backends, chosen by ``pypi.auth``, and the one evaluator over them."""

from __future__ import annotations

from pypicloud.access.base import AccessBackend, MutableAccess, UserFacts
from pypicloud.access.evaluator import Access, AccessDefaults
from pypicloud.backends import load_backend
from pypicloud.settings import Settings

BACKENDS = {
    "config": "pypicloud.access.config:ConfigAccess",
    "pypicloud.access.ConfigAccessBackend": "pypicloud.access.config:ConfigAccess",
    "pypicloud.access.config.ConfigAccessBackend": "pypicloud.access.config:ConfigAccess",
    "sql": "pypicloud.access.sql:SQLAccess",
    "pypicloud.access.SQLAccessBackend": "pypicloud.access.sql:SQLAccess",
    "pypicloud.access.sql.SQLAccessBackend": "pypicloud.access.sql:SQLAccess",
    "remote": "pypicloud.access.remote:RemoteAccess",
    "pypicloud.access.RemoteAccessBackend": "pypicloud.access.remote:RemoteAccess",
    "pypicloud.access.remote.RemoteAccessBackend": "pypicloud.access.remote:RemoteAccess",
    "aws_secrets_manager": "pypicloud.access.aws_secrets_manager:AWSSecretsManagerAccess",
    "pypicloud.access.AWSSecretsManagerAccessBackend": (
        "pypicloud.access.aws_secrets_manager:AWSSecretsManagerAccess"
    ),
    "pypicloud.access.aws_secrets_manager.AWSSecretsManagerAccessBackend": (
        "pypicloud.access.aws_secrets_manager:AWSSecretsManagerAccess"
    ),
    "ldap": "pypicloud.access.ldap:LDAPAccess",
    "pypicloud.access.LDAPAccessBackend": "pypicloud.access.ldap:LDAPAccess",
    "pypicloud.access.ldap_.LDAPAccessBackend": "pypicloud.access.ldap:LDAPAccess",
}

__all__ = [
    "Access",
    "AccessBackend",
    "AccessDefaults",
    "MutableAccess",
    "UserFacts",
    "access_from_settings",
    "backend_from_settings",
]


def backend_from_settings(settings: Settings) -> AccessBackend:
    cls = load_backend(settings, "pypi.auth", BACKENDS, "config", kind=AccessBackend)
    return cls.from_settings(settings)


def access_from_settings(settings: Settings) -> Access:
    return Access.from_settings(settings)
