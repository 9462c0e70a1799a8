"""Resolve a backend from a short name or a dotted path, once, at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.path import DottedNameResolver

from pypicloud.settings import ConfigError, Settings


def load_backend(settings: Settings, key: str, table: Mapping[str, str], default: str) -> Any:
    """Return the class named by ``settings[key]``: a key of ``table`` or a dotted path."""
    choice = settings.str(key, default) or default
    dotted = table.get(choice, choice)
    if "." not in dotted and ":" not in dotted:
        raise ConfigError(
            key, f"unknown backend {choice!r}; expected one of {', '.join(table)} or a dotted path"
        )
    try:
        return DottedNameResolver().resolve(dotted)
    except ImportError as exc:
        raise ConfigError(key, f"cannot load {dotted!r}: {exc}") from exc
    except (AttributeError, ValueError) as exc:
        raise ConfigError(key, f"cannot load {dotted!r}: {exc}") from exc
