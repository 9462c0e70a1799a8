"""The fast path's pieces: which URLs it claims, its store, If-None-Match."""

from __future__ import annotations

import pytest

from pypicloud.fastpath import Page, PageStore, _matches, match


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/simple/", ("simple_index", "", "")),
        ("/pypi/", ("pypi_index", "", "")),
        ("/simple/alpha/", ("simple_project", "alpha", "")),
        ("/pypi/alpha/", ("pypi_project", "alpha", "")),
        ("/pypi/alpha/json", ("pypi_json", "alpha", "")),
        ("/api/package/alpha/a-1.0.tar.gz", ("api_file", "alpha", "a-1.0.tar.gz")),
        ("/simple", None),
        ("/simple/alpha", None),
        ("/simple//", None),
        ("/api/package/alpha/", None),
        ("/api/package//x", None),
        ("/pypi/alpha/1.0/json", None),
        ("/project/alpha/", None),
        ("/", None),
        ("", None),
    ],
)
def test_match(path, expected):
    assert match(path) == expected


def page(body: bytes = b"x") -> Page:
    return Page("200 OK", [("ETag", '"abc"'), ("Content-Length", str(len(body)))], body)


def test_store_forgets_everything_when_the_serial_moves():
    store = PageStore()
    store.put(1, "a", page(), 1)
    assert store.get(1, "a") is not None
    assert store.get(2, "a") is None
    store.put(2, "b", page(), 1)
    assert store.get(2, "a") is None and len(store) == 1


def test_store_ignores_what_was_made_from_an_older_serial():
    store = PageStore()
    store.put(5, "a", page(), 1)
    store.put(4, "b", page(), 1)
    assert store.get(4, "b") is None and store.get(5, "a") is not None


def test_store_is_bounded_by_bytes_least_recent_first():
    store = PageStore(max_bytes=10)
    for key in "abc":
        store.put(1, key, page(), 4)
    assert store.get(1, "a") is None
    assert store.get(1, "b") is not None and store.get(1, "c") is not None
    store.put(1, "huge", page(), 11)
    assert store.get(1, "huge") is None


def test_page_keeps_what_a_304_needs():
    made = Page(
        "200 OK",
        [("Content-Type", "text/html"), ("ETag", '"e"'), ("Vary", "Accept"), ("Set-X", "1")],
        b"body",
    )
    assert made.etag == '"e"'
    assert made.not_modified == (("ETag", '"e"'), ("Vary", "Accept"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"e"', True),
        ('W/"e"', True),
        ('"x", "e"', True),
        ("*", True),
        ('"x"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header, expected):
    assert _matches(header, '"e"') is expected
