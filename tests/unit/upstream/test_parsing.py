"""Upstream pages in PEP 691 JSON and PEP 503 HTML become the same facts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pypicloud.upstream.parsing import InvalidPage, parse_html, parse_json

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
