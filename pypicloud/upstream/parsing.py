"""An upstream project page, read from PEP 691 JSON or PEP 503 HTML, as plain facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from pypicloud.dists import InvalidDistribution, parse_filename


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
    try:
        data = json.loads(body)
        raw_files = data["files"]
    except (ValueError, KeyError, TypeError):
        raise InvalidPage("not a PEP 691 project page") from None
    if not isinstance(raw_files, list):
        raise InvalidPage("not a PEP 691 project page")
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
    return found


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

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
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
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
    return found
