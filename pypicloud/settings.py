"""Typed reading of the ini settings, once, at start-up.

Every accessor names the key in its error, so a bad ini file fails before the server
serves anything. Keys under the prefixes we own that nobody reads are an error too
(see ``Settings.check_unused``), except those the original pypicloud knew and we accept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0", ""}
OWNED_PREFIXES = ("pypi.", "storage.", "db.", "auth.", "sync.")

# Keys of the original pypicloud that this server accepts without acting on them yet.
# They are accepted so an existing ini file keeps starting; the README lists them.
TOLERATED_KEYS = frozenset(
    {
        "pypi.use_json_scraper",
        "pypi.download_url",
    }
)


# The accessors below are named after the types they return (settings.str, settings.int...),
# which shadows those names inside the class: these aliases keep the annotations readable.
Text = str
Number = int
Flag = bool
Words = list[str]


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"setting {key!r}: {problem}")
        self.key = key


def env_key(key: str) -> str:
    return "PPC_" + key.upper().replace(".", "_")


class Settings:
    """Read-only view of the app settings that records which keys were read."""

    def __init__(
        self,
        raw: Mapping[Text, Any],
        environ: Mapping[Text, Text] | None = None,
        here: Text | None = None,
    ):
        #: The directory of the ini file: relative defaults (the SQLite file) live under it.
        self.here = here or os.getcwd()
        environ = os.environ if environ is None else environ
        merged = {k: v for k, v in raw.items() if isinstance(k, str)}
        for key in list(merged):
            if env_key(key) in environ:
                merged[key] = environ[env_key(key)]
        # Environment variables may also set keys the ini file does not mention.
        for name, value in environ.items():
            if name.startswith("PPC_"):
                guess = name[4:].lower().replace("_", ".", 1)
                if guess not in merged and guess.split(".", 1)[0] + "." in OWNED_PREFIXES:
                    merged[guess] = value
        self._values = merged
        self._read: set[Text] = set()

    def __contains__(self, key: Text) -> Flag:
        return key in self._values

    def raw(self) -> dict[Text, Any]:
        return dict(self._values)

    def keys_with_prefix(self, prefix: Text) -> Words:
        return [k for k in self._values if k.startswith(prefix)]

    def mark_read(self, key: Text) -> None:
        self._read.add(key)

    def get(self, key: Text, default: Any = None) -> Any:
        self._read.add(key)
        value = self._values.get(key, default)
        return value.strip() if isinstance(value, str) else value

    def str(
        self,
        key: Text,
        default: Text | None = None,
        *,
        required: Flag = False,
    ) -> Text | None:
        value = self.get(key)
        if value is None or value == "":
            if required:
                raise ConfigError(key, "is required")
            return default
        return str(value)

    def bool(self, key: Text, default: Flag = False) -> Flag:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ConfigError(key, f"expected true or false, got {value!r}")

    def int(
        self,
        key: Text,
        default: Number | None = None,
        *,
        minimum: Number | None = None,
    ) -> Number | None:
        value = self.get(key)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected a whole number, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(key, f"must be at least {minimum}, got {number}")
        return number

    def size(self, key: Text, default: Number | None = None) -> Number | None:
        """A byte count, with an optional K/M/G suffix (``100M``)."""
        value = self.get(key)
        if value is None or value == "":
            return default
        text = str(value).strip().upper().removesuffix("B")
        factor = 1
        for suffix, multiple in (("K", 1024), ("M", 1024**2), ("G", 1024**3)):
            if text.endswith(suffix):
                text, factor = text[:-1], multiple
                break
        try:
            number = int(text) * factor
        except ValueError:
            raise ConfigError(key, f"expected a size such as 100M, got {value!r}") from None
        if number <= 0:
            raise ConfigError(key, "must be positive")
        return number

    def list(self, key: Text, default: Iterable[Text] = ()) -> Words:
        """Whitespace or comma separated words (ini values may span lines)."""
        value = self.get(key)
        if value is None:
            return list(default)
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [word for word in str(value).replace(",", " ").split() if word]

    def choice(self, key: Text, choices: Iterable[Text], default: Text) -> Text:
        value = self.str(key, default)
        options = list(choices)
        if value not in options:
            raise ConfigError(key, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def check_unused(self, passthrough: Iterable[Text] = ()) -> None:
        """Fail on keys under our prefixes that no component read (a typo, most often)."""
        allowed = tuple(passthrough)
        unknown = sorted(
            key
            for key in self._values
            if key.startswith(OWNED_PREFIXES)
            and key not in self._read
            and key not in TOLERATED_KEYS
            and not key.startswith(allowed or ("\0",))
        )
        if unknown:
            raise ConfigError(
                unknown[0],
                "is not a known setting"
                + (f" (also unknown: {', '.join(unknown[1:])})" if len(unknown) > 1 else ""),
            )
