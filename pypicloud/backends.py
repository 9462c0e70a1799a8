"""Resolve a backend from a short name or a dotted path, once, at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pyramid.path import DottedNameResolver

from pypicloud.extras import install_hint
from pypicloud.settings import ConfigError, Settings

T = TypeVar("T")


def load_backend(
    settings: Settings, key: str, table: Mapping[str, str], default: str, kind: type[T]
) -> type[T]:
    """The class named by ``settings[key]`` (a key of ``table`` or a dotted path).

    ``kind`` is the family's Protocol: it types the result, so mypy checks how each family
    builds its backend, and names the family when the class cannot be one.
    """
    choice = settings.str(key, default) or default
    dotted = table.get(choice, choice)
    if "." not in dotted and ":" not in dotted:
        raise ConfigError(
            key, f"unknown backend {choice!r}; expected one of {', '.join(table)} or a dotted path"
        )
    try:
        found = DottedNameResolver().resolve(dotted)
    except ImportError as exc:
        raise ConfigError(key, f"cannot load {dotted!r}: {exc}{install_hint(exc)}") from exc
    except (AttributeError, ValueError) as exc:
        raise ConfigError(key, f"cannot load {dotted!r}: {exc}") from exc
    if not callable(getattr(found, "from_settings", None)):
        raise ConfigError(
            key, f"{dotted!r} is not a {kind.__name__} backend: it has no from_settings(settings)"
        )
    return found
