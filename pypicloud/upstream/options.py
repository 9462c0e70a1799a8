"""The ``pypi.fallback*`` settings: which upstream index, how it is used, and for which names.

Read once at start-up; a bad value stops start-up with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from pypicloud.settings import ConfigError, Settings

Mode = Literal["redirect", "cache", "none"]
MODES: tuple[Mode, ...] = ("redirect", "cache", "none")
# The original pypicloud's default. The test suite patches it to "none" (tests/fixtures/
# upstream.py) so no test reaches the real internet unless it asks for an upstream.
DEFAULT_MODE: Mode = "redirect"
DEFAULT_BASE_URL = "https://pypi.org"
DEFAULT_TIMEOUT = 5.0
DURATION = re.compile(r"^(\d+)\s*([smhdw]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PATTERN = re.compile(r"^[a-z0-9*?\[\]!-]+$")


def normalize_pattern(pattern: str) -> str:
    """A project-name glob spelled as normalized names are (PEP 503), so ``My_Pkg*``
    matches ``my-pkg-extra``."""
    return re.sub(r"[-_.]+", "-", pattern.strip()).lower()


def parse_duration(key: str, value: str) -> int:
    """``3d``, ``12h``, ``30m``, ``600s``, ``1w`` or plain seconds."""
    match = DURATION.match(value.strip().lower())
    if not match:
        raise ConfigError(key, f"expected a duration such as 3d, 12h or 600s, got {value!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


def _patterns(settings: Settings, key: str) -> tuple[str, ...]:
    found = []
    for word in settings.list(key):
        pattern = normalize_pattern(word)
        if not PATTERN.match(pattern):
            raise ConfigError(key, f"{word!r} is not a project name or glob pattern")
        found.append(pattern)
    return tuple(found)


def _simple_url(settings: Settings) -> str:
    """``pypi.fallback_url`` (a full simple URL, the original's) wins over the base URL."""
    full = settings.str("pypi.fallback_url")
    base = settings.str("pypi.fallback_base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    key = "pypi.fallback_url" if full else "pypi.fallback_base_url"
    url = full or base.rstrip("/") + "/simple/"
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(key, f"expected an http:// or https:// URL, got {url!r}")
    return url.rstrip("/") + "/"


@dataclasses.dataclass(frozen=True)
class FallbackOptions:
    mode: Mode = "none"
    simple_url: str = DEFAULT_BASE_URL + "/simple/"
    always_show_upstream: bool = False
    disallow: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # empty: every name not disallowed
    cache_update: tuple[str, ...] = ("authenticated",)
    stream_files: bool = False
    package_max_age: int = 0
    min_age: int = 0
    min_age_exempt: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    @property
    def base_url(self) -> str:
        """The upstream's root, for its ``/pypi/<p>/json`` pages."""
        return self.simple_url.removesuffix("/").removesuffix("/simple") + "/"

    @classmethod
    def from_settings(cls, settings: Settings) -> FallbackOptions:
        mode = settings.choice("pypi.fallback", MODES, DEFAULT_MODE)
        min_age = settings.str("pypi.fallback_min_age")
        timeout = settings.str("pypi.fallback_timeout")
        return cls(
            mode=mode,  # type: ignore[arg-type]  # checked by choice()
            simple_url=_simple_url(settings),
            always_show_upstream=settings.bool("pypi.always_show_upstream", False),
            disallow=_patterns(settings, "pypi.disallow_fallback"),
            allow=_patterns(settings, "pypi.fallback_allow"),
            cache_update=tuple(settings.list("pypi.cache_update", ["authenticated"])),
            stream_files=settings.bool("pypi.stream_files", False),
            package_max_age=settings.int("pypi.package_max_age", 0, minimum=0) or 0,
            min_age=parse_duration("pypi.fallback_min_age", min_age) if min_age else 0,
            min_age_exempt=_patterns(settings, "pypi.fallback_min_age_exempt"),
            timeout=_timeout(timeout) if timeout else DEFAULT_TIMEOUT,
        )

    def describe(self) -> str:
        """The start-up line: which mode, pointing where."""
        if self.mode == "none":
            return "upstream fallback: none (local packages only)"
        extra = []
        if self.always_show_upstream:
            extra.append("always_show_upstream")
        if self.allow:
            extra.append(f"allow-list of {len(self.allow)}")
        if self.disallow:
            extra.append(f"{len(self.disallow)} disallowed")
        if self.min_age:
            extra.append(f"min age {self.min_age}s")
        more = f" ({', '.join(extra)})" if extra else ""
        return f"upstream fallback: {self.mode} to {self.simple_url}{more}"


def _timeout(value: str) -> float:
    key = "pypi.fallback_timeout"
    try:
        seconds = float(value.strip().lower().removesuffix("s"))
    except ValueError:
        raise ConfigError(key, f"expected seconds such as 5 or 2.5, got {value!r}") from None
    if not 0 < seconds <= 300:
        raise ConfigError(key, f"must be more than 0 and at most 300 seconds, got {value!r}")
    return seconds
