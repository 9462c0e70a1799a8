"""Access backends, chosen by ``pypi.auth``."""

from __future__ import annotations

from pypicloud.access.base import Access
from pypicloud.backends import load_backend
from pypicloud.settings import Settings

BACKENDS = {
    "config": "pypicloud.access.config:ConfigAccess",
    "pypicloud.access.ConfigAccessBackend": "pypicloud.access.config:ConfigAccess",
    "pypicloud.access.config.ConfigAccessBackend": "pypicloud.access.config:ConfigAccess",
}

__all__ = ["Access", "access_from_settings"]


def access_from_settings(settings: Settings) -> Access:
    cls = load_backend(settings, "pypi.auth", BACKENDS, "config", kind=Access)
    return cls.from_settings(settings)
