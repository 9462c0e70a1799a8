"""The ``storage.*`` options every object store shares, read in one place.

S3, CloudFront, GCS and Azure Blob all take ``prefix``, ``prepend_hash``, ``expire_after``
and ``redirect_urls`` with the original pypicloud's defaults; reading them once keeps the
defaults, the limits and the error messages the same for every store.
"""

from __future__ import annotations

import dataclasses

from pypicloud.settings import ConfigError, Settings

DEFAULT_EXPIRE_AFTER = 86400
#: The longest lifetime of an S3 SigV4 or a GCS V4 signed URL (seven days).
V4_MAX_EXPIRE_AFTER = 7 * 24 * 3600
EXPIRE_AFTER = "storage.expire_after"


@dataclasses.dataclass(frozen=True)
class ObjectOptions:
    """How an object store names its keys and hands out download URLs."""

    #: Prepended verbatim to every key (a user writes ``packages/``).
    prefix: str = ""
    #: Whether keys start with ``md5(filename)[:4]/`` (never on Azure).
    prepend_hash: bool = True
    #: Seconds a signed download URL stays valid.
    expire_after: int = DEFAULT_EXPIRE_AFTER
    #: Whether downloads are answered with a redirect to ``download_url``.
    redirect_urls: bool = True
    #: Whether download URLs are plain, unsigned ones (public objects).
    public_url: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        max_expire: int | None,
        hash_directory: bool = True,
        public_url: bool = False,
    ) -> ObjectOptions:
        """Read the shared keys.

        ``max_expire`` is the store's longest signed-URL lifetime (None: no limit). A store
        without a hash directory (``hash_directory=False``) or without public URLs does not
        read ``storage.prepend_hash`` or ``storage.public_url``, so setting them stays an
        unknown-key error there rather than being silently ignored.
        """
        return cls(
            prefix=settings.str("storage.prefix", "") or "",
            prepend_hash=hash_directory and settings.bool("storage.prepend_hash", True),
            expire_after=expire_after_from_settings(settings, max_expire=max_expire),
            redirect_urls=settings.bool("storage.redirect_urls", True),
            public_url=public_url and settings.bool("storage.public_url", False),
        )


#: The defaults, for stores built without settings (tests, scripts).
DEFAULTS = ObjectOptions()


def expire_after_from_settings(settings: Settings, *, max_expire: int | None) -> int:
    """``storage.expire_after``: at least one second, at most ``max_expire`` when given."""
    value = settings.int(EXPIRE_AFTER, DEFAULT_EXPIRE_AFTER, minimum=1)
    assert value is not None
    if max_expire is not None and value > max_expire:
        raise ConfigError(EXPIRE_AFTER, f"this storage's signed URLs last at most {max_expire} s")
    return value
