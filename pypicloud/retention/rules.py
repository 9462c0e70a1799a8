"""Retention rules (``pypi.retention``) and what they would remove from one project.

Pure functions over a project's file records and a clock, so the decisions can be tested
without storage or a database; pypicloud/retention/runner.py applies them.

A rule is one line: a glob on the normalized project name, then options. The first line
whose pattern matches a project decides for it; a project no line matches is never touched.
Whatever the options say, a release marked to keep and the project's newest release stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Sequence

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pypicloud.models import Package
from pypicloud.settings import ConfigError, Settings

RULES_KEY = "pypi.retention"
INTERVAL_KEY = "pypi.retention_interval"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_OPTIONS = ("keep", "prerelease_age", "dev_age")


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s``; ValueError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"expected a duration such as 30d, 12h or 2w, got {text!r}")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):  # 7d stays 7d (as people write it), not 1w
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def normalize_pattern(pattern: str) -> str:
    """A glob compared with normalized names: ``My_Pkg*`` means ``my-pkg*``."""
    return re.sub(r"[-_.]+", "-", pattern).lower()


@dataclasses.dataclass(frozen=True)
class Rule:
    """One line of ``pypi.retention``; no option at all exempts the projects it matches."""

    pattern: str
    keep: int | None = None  # the newest N releases by version
    prerelease_age: dt.timedelta | None = None  # a1, b2, rc1 (not dev) older than this
    dev_age: dt.timedelta | None = None  # any .devN older than this

    def matches(self, project: str) -> bool:
        return fnmatch.fnmatchcase(canonicalize_name(project), self.pattern)

    def describe(self) -> str:
        parts = [self.pattern]
        if self.keep is not None:
            parts.append(f"keep={self.keep}")
        if self.prerelease_age is not None:
            parts.append(f"prerelease_age={format_duration(self.prerelease_age)}")
        if self.dev_age is not None:
            parts.append(f"dev_age={format_duration(self.dev_age)}")
        return " ".join(parts)


def parse_rule(line: str) -> Rule:
    """``<glob> [keep=N] [prerelease_age=D] [dev_age=D]``; ValueError says what is wrong."""
    words = line.split()
    pattern, options = normalize_pattern(words[0]), words[1:]
    if "=" in pattern:
        raise ValueError(f"{line!r} starts with an option: a line starts with a name or glob")
    values: dict[str, object] = {}
    for word in options:
        key, sep, value = word.partition("=")
        if not sep or key not in _OPTIONS:
            raise ValueError(f"unknown option {word!r} (expected {', '.join(_OPTIONS)})")
        if key in values:
            raise ValueError(f"{key} is given twice in {line!r}")
        if key == "keep":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"keep: expected a whole number of at least 1, got {value!r}")
            values[key] = int(value)
        else:
            values[key] = parse_duration(value)
    return Rule(pattern=pattern, **values)  # type: ignore[arg-type]


def parse_rules(text: str) -> list[Rule]:
    """One rule per non-empty line, or per ``;`` (one environment variable can then hold
    them all); ``#`` starts a comment."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        for part in raw.split("#", 1)[0].split(";"):
            if not part.strip():
                continue
            try:
                rules.append(parse_rule(part.strip()))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
    return rules


@dataclasses.dataclass(frozen=True)
class RetentionOptions:
    rules: tuple[Rule, ...] = ()
    #: Seconds between scheduled runs in the server; None: never (use ``ppc-retention``).
    interval: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionOptions:
        text = settings.str(RULES_KEY, "") or ""
        try:
            rules = tuple(parse_rules(text))
        except ValueError as exc:
            raise ConfigError(RULES_KEY, str(exc)) from None
        raw = (settings.str(INTERVAL_KEY, "") or "").lower()
        interval = None
        if raw not in ("", "0", "off", "none"):
            try:
                interval = parse_duration(raw).total_seconds()
            except ValueError as exc:
                raise ConfigError(INTERVAL_KEY, f"{exc}, or off") from None
            if interval < 60:
                raise ConfigError(INTERVAL_KEY, f"must be at least 1m, got {raw!r}")
        if interval is not None and not rules:
            raise ConfigError(INTERVAL_KEY, f"is set but {RULES_KEY} has no rule")
        return cls(rules=rules, interval=interval)

    def rule_for(self, project: str) -> Rule | None:
        """The first rule whose pattern matches, in the order they are written."""
        return next((rule for rule in self.rules if rule.matches(project)), None)


@dataclasses.dataclass(frozen=True)
class Removal:
    """A release retention removes, with every file of it and the reason."""

    project: str
    version: str
    files: tuple[Package, ...]
    reason: str
    rule: Rule

    def describe(self) -> str:
        return f"{self.reason} (rule {self.rule.describe()!r})"


@dataclasses.dataclass(frozen=True)
class Release:
    version: Version
    files: tuple[Package, ...]

    @property
    def uploaded(self) -> dt.datetime:
        """When the release's newest file came: an age counts from the last upload."""
        return max(p.last_modified for p in self.files)

    @property
    def kept(self) -> bool:
        """Marked to keep (``PUT .../<version>/keep``): a mark on any file keeps them all."""
        return any(p.kept for p in self.files)


def releases(files: Iterable[Package]) -> list[Release]:
    """Newest version first; files whose version is not PEP 440 are left out (no order is
    known for them, so retention never removes them)."""
    by_version: dict[Version, list[Package]] = {}
    for package in files:
        try:
            version = Version(package.version)
        except InvalidVersion:
            continue
        by_version.setdefault(version, []).append(package)
    return [
        Release(v, tuple(sorted(by_version[v], key=lambda p: p.filename)))
        for v in sorted(by_version, reverse=True)
    ]


def _why(rule: Rule, position: int, release: Release, now: dt.datetime) -> str | None:
    """Why the rule removes the release at ``position`` (0 = newest), or None."""
    if rule.keep is not None and position >= rule.keep:
        return f"beyond the newest {rule.keep}"
    age = now - release.uploaded
    version = release.version
    if rule.dev_age is not None and version.is_devrelease and age > rule.dev_age:
        return f"dev release older than {format_duration(rule.dev_age)}"
    if (
        rule.prerelease_age is not None
        and version.pre is not None
        and not version.is_devrelease
        and age > rule.prerelease_age
    ):
        return f"pre-release older than {format_duration(rule.prerelease_age)}"
    return None


def plan(rule: Rule, project: str, files: Sequence[Package], now: dt.datetime) -> list[Removal]:
    """The releases of one project that ``rule`` removes, newest first."""
    removals = []
    for position, release in enumerate(releases(files)):
        if position == 0 or release.kept:  # never empty a project; never touch a kept one
            continue
        reason = _why(rule, position, release, now)
        if reason is not None:
            version = release.files[0].version  # as uploaded, not re-spelled
            removals.append(Removal(project, version, release.files, reason, rule))
    return removals
