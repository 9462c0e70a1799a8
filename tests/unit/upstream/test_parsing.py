"""Upstream pages in PEP 691 JSON and PEP 503 HTML become the same facts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pypicloud.status import ProjectStatus, Status
from pypicloud.upstream.parsing import (
    InvalidPage,
    parse_html,
    parse_html_page,
    parse_json,
    parse_json_page,
)

PAGE = "https://up.example/simple/demo/"
SHA = "ab" * 32


def test_json_keeps_every_fact():
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "demo",
            "files": [
                {
                    "filename": "demo-1.0-py3-none-any.whl",
                    "url": "../../files/demo-1.0-py3-none-any.whl",
                    "hashes": {"sha256": SHA.upper()},
                    "requires-python": ">=3.8",
                    "yanked": "broken",
                    "core-metadata": {"sha256": "cd" * 32},
                    "size": 123,
                    "upload-time": "2026-01-02T03:04:05.000006Z",
                },
                {"filename": "demo-0.9.tar.gz", "url": "https://x/demo-0.9.tar.gz", "hashes": {}},
                {"filename": "not-a-dist.txt", "url": "x"},
            ],
        }
    ).encode()
    first, second = parse_json(body, PAGE)
    assert first.url == "https://up.example/files/demo-1.0-py3-none-any.whl"
    assert (first.version, first.kind, first.sha256) == ("1.0", "bdist_wheel", SHA)
    assert first.requires_python == ">=3.8" and first.yanked == "broken"
    assert first.core_metadata == "cd" * 32 and first.size == 123
    assert first.upload_time == dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    assert (second.kind, second.sha256, second.yanked, second.upload_time) == (
        "sdist",
        None,
        False,
        None,
    )


def test_json_that_is_not_a_project_page_is_refused():
    with pytest.raises(InvalidPage):
        parse_json(b"<html>", PAGE)
    with pytest.raises(InvalidPage):
        parse_json(b'{"files": 3}', PAGE)


def test_html_reads_the_same_facts():
    body = (
        '<a href="/f/demo-1.0-py3-none-any.whl#sha256=' + SHA + '" '
        'data-requires-python="&gt;=3.8" data-yanked="" '
        'data-dist-info-metadata="sha256=' + "cd" * 32 + '">demo-1.0-py3-none-any.whl</a>'
        '<a href="demo-0.9.tar.gz">demo-0.9.tar.gz</a><a>no href</a>'
    ).encode()
    first, second = parse_html(body, PAGE)
    assert first.url == "https://up.example/f/demo-1.0-py3-none-any.whl"
    assert first.sha256 == SHA and first.requires_python == ">=3.8"
    assert first.yanked == "" and first.core_metadata == "cd" * 32
    assert second.url == PAGE + "demo-0.9.tar.gz" and second.yanked is False


# -- project status (PEP 792) and api-version ----------------------------------------------


def json_page(**extra: object) -> bytes:
    return json.dumps({"name": "demo", "files": [], **extra}).encode()


def test_json_reads_the_status_and_the_api_version():
    body = json_page(
        meta={"api-version": "1.4"},
        **{"project-status": {"status": "Quarantined", "reason": " mal\nware "}},
    )
    page = parse_json_page(body, PAGE)
    assert page.status == ProjectStatus(Status.QUARANTINED, "mal ware")
    assert page.api_version == (1, 4)
    assert parse_json_page(json_page(), PAGE).status is None  # no status: active


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ("quarantined", None),
        ({"status": 1}, None),
        ({"status": "frozen"}, None),
        ({"status": "archived", "reason": 7}, ProjectStatus(Status.ARCHIVED)),
        ({"status": "archived", "reason": "a\x07b"}, ProjectStatus(Status.ARCHIVED)),
        ({"status": "archived", "reason": "x" * 401}, ProjectStatus(Status.ARCHIVED)),
        ({"status": "deprecated", "reason": None}, ProjectStatus(Status.DEPRECATED)),
    ],
)
def test_a_malformed_status_is_none_and_a_bad_reason_is_dropped(served, expected, caplog):
    caplog.set_level("DEBUG", logger="pypicloud.upstream.parsing")
    body = json_page(meta={"api-version": "1.4"}, **{"project-status": served})
    assert parse_json_page(body, PAGE).status == expected
    if served != {"status": "deprecated", "reason": None}:
        assert PAGE in caplog.text  # logged at debug, naming the page


@pytest.mark.parametrize(
    ("meta", "version"),
    [
        (None, None),
        ("1.4", None),
        ({}, None),
        ({"api-version": None}, None),
        ({"api-version": 1.4}, None),
        ({"api-version": "v1"}, None),
        ({"api-version": "1.4.1"}, None),
        ({"api-version": " 1.10 "}, (1, 10)),
        ({"api-version": "1.0"}, (1, 0)),
    ],
)
def test_any_api_version_is_read_leniently_and_the_status_still_counts(meta, version):
    body = json_page(meta=meta, **{"project-status": {"status": "archived"}})
    page = parse_json_page(body, PAGE)
    assert page.api_version == version
    assert page.status == ProjectStatus(Status.ARCHIVED)


def test_html_reads_the_status_meta_tags():
    body = (
        b'<html><head><META name="pypi:repository-version" content="1.4">'
        b'<meta name="pypi:project-status" content="deprecated">'
        b'<meta name="pypi:project-status-reason" content="use &quot;x&quot;"/>'
        b'<meta name="pypi:project-status" content="quarantined"></head>'
        b'<body><a href="demo-0.9.tar.gz">demo-0.9.tar.gz</a></body></html>'
    )
    page = parse_html_page(body, PAGE)
    assert page.status == ProjectStatus(Status.DEPRECATED, 'use "x"')  # the first tag
    assert page.api_version == (1, 4) and len(page.files) == 1
    for head in (b"", b'<meta name="pypi:project-status">', b'<meta content="quarantined">'):
        assert parse_html_page(head + b"<a href='x'>x</a>", PAGE).status is None
    unknown = b'<meta name="pypi:project-status" content="gone">'
    assert parse_html_page(unknown, PAGE).status is None
