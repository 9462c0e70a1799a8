"""An upstream project page, read from PEP 691 JSON or PEP 503 HTML, as plain facts.

Besides the files, a page may carry the project's status (PEP 792): JSON's
``project-status`` object (``status``, optional ``reason``), HTML's
``<meta name="pypi:project-status">`` and ``pypi:project-status-reason``. The status came
with api-version 1.4, but it is read whenever it is present, whatever version the page
declares (``meta.api-version`` or ``pypi:repository-version``): a quarantine must not be
lost to an upstream that is late to bump its version. The version is read leniently (a
missing or malformed one is "unknown", never an error). A status that is not one of PEP
792's (not an object, not a string, an unknown word) counts as no status at all and is
logged at debug level; a reason that is not plain text (see ``pypicloud.status.parse``)
is dropped and the status kept, so a bad reason never loses a quarantine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from pypicloud.dists import InvalidDistribution, parse_filename
from pypicloud.status import InvalidStatus, ProjectStatus, parse

log = logging.getLogger(__name__)

#: The api-version that added ``project-status`` (PEP 792).
STATUS_API_VERSION = (1, 4)
API_VERSION_TEXT = re.compile(r"^\s*(\d{1,4})\.(\d{1,4})\s*$")


class InvalidPage(ValueError):
    """The upstream answered something that is not a project page."""


@dataclasses.dataclass(frozen=True)
class UpstreamFile:
    filename: str
    url: str  # absolute, without the fragment
    version: str
    kind: str  # bdist_wheel or sdist
    sha256: str | None = None
    requires_python: str | None = None
    yanked: str | bool = False  # False, or the reason ("" when none given)
    core_metadata: str | None = None  # the sha256 of the PEP 658 file, when offered
    size: int | None = None
    upload_time: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class ParsedPage:
    files: list[UpstreamFile]
    #: None when the page says nothing readable about its status (the project is active).
    status: ProjectStatus | None = None
    #: (major, minor) as declared, None when absent or malformed.
    api_version: tuple[int, int] | None = None


def parse_api_version(value: Any, page_url: str) -> tuple[int, int] | None:
    """``"1.4"`` -> ``(1, 4)``; anything else is unknown (logged when present)."""
    if value is None:
        return None
    found = API_VERSION_TEXT.match(value) if isinstance(value, str) else None
    if found is None:
        log.debug("%s declares a malformed api-version %.80r: ignored", page_url, value)
        return None
    return int(found.group(1)), int(found.group(2))


def parse_status(
    status: Any, reason: Any, page_url: str, api_version: tuple[int, int] | None
) -> ProjectStatus | None:
    """The upstream's PEP 792 status, or None for none (or one we cannot read)."""
    if status is None:
        return None
    if not isinstance(status, str):
        log.debug("%s has a malformed project status %.80r: ignored", page_url, status)
        return None
    if api_version is not None and api_version < STATUS_API_VERSION:
        log.debug("%s has a project status under api-version %s.%s", page_url, *api_version)
    try:
        return parse(status, reason)
    except InvalidStatus as exc:
        try:
            found = parse(status)
        except InvalidStatus:
            log.debug("%s has an unknown project status %.80r: ignored", page_url, status)
            return None
        log.debug("%s has a malformed project status reason (%s): dropped", page_url, exc)
        return found


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _entry(filename: str, url: str, **facts: Any) -> UpstreamFile | None:
    """A file we can list, or None for a name that is not a distribution of ours."""
    try:
        dist = parse_filename(filename)
    except InvalidDistribution:
        return None
    return UpstreamFile(filename, url, dist.version, dist.kind, **facts)


def _metadata_hash(value: Any) -> str | None:
    if isinstance(value, dict):
        digest = value.get("sha256")
        return digest.lower() if isinstance(digest, str) and digest else None
    return None


def _yanked(value: Any) -> str | bool:
    if value is True:
        return ""
    return value if isinstance(value, str) and value else False


def parse_json(body: bytes, page_url: str) -> list[UpstreamFile]:
    return parse_json_page(body, page_url).files


def parse_json_page(body: bytes, page_url: str) -> ParsedPage:
    try:
        data = json.loads(body)
        raw_files = data["files"]
    except (ValueError, KeyError, TypeError):
        raise InvalidPage("not a PEP 691 project page") from None
    if not isinstance(raw_files, list):
        raise InvalidPage("not a PEP 691 project page")
    meta = data.get("meta")
    api_version = parse_api_version(
        meta.get("api-version") if isinstance(meta, dict) else None, page_url
    )
    raw_status = data.get("project-status")
    if raw_status is None:
        status = None
    elif isinstance(raw_status, dict):
        status = parse_status(
            raw_status.get("status"), raw_status.get("reason"), page_url, api_version
        )
    else:
        log.debug("%s has a malformed project-status %.80r: ignored", page_url, raw_status)
        status = None
    found = []
    for raw in raw_files:
        if not isinstance(raw, dict) or not isinstance(raw.get("filename"), str):
            continue
        hashes = raw.get("hashes")
        hashes = hashes if isinstance(hashes, dict) else {}
        size = raw.get("size")
        entry = _entry(
            raw["filename"],
            urljoin(page_url, str(raw.get("url", ""))),
            sha256=(hashes.get("sha256") or "").lower() or None,
            requires_python=raw.get("requires-python") or None,
            yanked=_yanked(raw.get("yanked")),
            core_metadata=_metadata_hash(raw.get("core-metadata", raw.get("dist-info-metadata"))),
            size=size if isinstance(size, int) and size >= 0 else None,
            upload_time=parse_time(raw.get("upload-time")),
        )
        if entry is not None:
            found.append(entry)
    return ParsedPage(found, status, api_version)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        #: ``<meta name=... content=...>``, the first of each name.
        self.meta: dict[str, str | None] = {}
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []
        elif tag == "meta":
            found = dict(attrs)
            name = (found.get("name") or "").lower()
            if name and name not in self.meta:
                self.meta[name] = found.get("content")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _hash_attr(value: str | None) -> str | None:
    if not value or "=" not in value:
        return None
    kind, _, digest = value.partition("=")
    return digest.lower() if kind == "sha256" and digest else None


def parse_html(body: bytes, page_url: str) -> list[UpstreamFile]:
    return parse_html_page(body, page_url).files


def parse_html_page(body: bytes, page_url: str) -> ParsedPage:
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    api_version = parse_api_version(parser.meta.get("pypi:repository-version"), page_url)
    status = parse_status(
        parser.meta.get("pypi:project-status"),
        parser.meta.get("pypi:project-status-reason"),
        page_url,
        api_version,
    )
    found = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(page_url, href))
        filename = unquote(url.rsplit("/", 1)[-1]) or text
        yanked = attrs.get("data-yanked")
        entry = _entry(
            filename,
            url,
            sha256=_hash_attr(fragment),
            requires_python=attrs.get("data-requires-python") or None,
            yanked=False if yanked is None else yanked,
            core_metadata=_hash_attr(
                attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
            ),
        )
        if entry is not None:
            found.append(entry)
    return ParsedPage(found, status, api_version)
