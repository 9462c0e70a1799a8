"""The objects built once at start-up and shared by every request and thread."""

from __future__ import annotations

import dataclasses
import logging

from pypicloud.access import Access, access_from_settings
from pypicloud.cache import Cache, cache_from_settings
from pypicloud.packages import PackageOptions, PackageService
from pypicloud.pages import PageCache
from pypicloud.security import Authenticator, CredentialCache
from pypicloud.settings import Settings
from pypicloud.storage import Storage, storage_from_settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """``pypi.*`` settings the views read."""

    realm: str = "pypi"
    stream_files: bool = False
    cache_max_age: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerOptions:
        return cls(
            realm=settings.str("pypi.realm", "pypi") or "pypi",
            stream_files=settings.bool("pypi.stream_files", False),
            cache_max_age=settings.int("pyramid.cache_max_age", 0, minimum=0) or 0,
        )


@dataclasses.dataclass
class Services:
    storage: Storage
    cache: Cache
    access: Access
    packages: PackageService
    authenticator: Authenticator
    pages: PageCache
    options: ServerOptions

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        storage = storage_from_settings(settings)
        cache = cache_from_settings(settings)
        access = access_from_settings(settings)
        packages = PackageService(storage, cache, PackageOptions.from_settings(settings))
        ttl = settings.int("auth.cache_seconds", 60, minimum=0)
        services = cls(
            storage=storage,
            cache=cache,
            access=access,
            packages=packages,
            authenticator=Authenticator(access, CredentialCache(ttl=float(ttl or 0))),
            pages=PageCache(),
            options=ServerOptions.from_settings(settings),
        )
        if settings.bool("db.reload_on_start", False) or cache.is_empty():
            packages.reload_from_storage()
        return services
