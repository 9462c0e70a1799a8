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
        ("e", True),  # unquoted, as WebOb (and so the views) accept it
        ("*", True),
        ('"x"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header, expected):
    assert _matches(header, '"e"') is expected


def fresh_headers(etag: str) -> list[tuple[str, str]]:
    """Headers as WebOb makes them for each response: equal values, new string objects."""
    return [
        ("Content-Type", "".join(["text/html; ", "charset=utf-8"])),
        ("Content-Length", str(600)),
        ("Vary", "".join(["Accept, Accept-Encoding, ", "Authorization, Cookie"])),
        ("Cache-Control", "".join(["private, ", "no-cache"])),
        ("Content-Security-Policy", "".join(["default-src 'none'; ", "frame-ancestors 'none'"])),
        ("X-Content-Type-Options", "".join(["no", "sniff"])),
        ("ETag", etag),
    ]


def test_pages_share_the_headers_every_page_repeats():
    first, second = (Page("200 OK", fresh_headers(f'"{n}"'), b"x") for n in ("a", "b"))
    for mine, theirs in zip(first.headerlist, second.headerlist, strict=True):
        assert mine == theirs or mine[0] == "ETag"
        if mine[0] not in ("ETag", "Content-Length"):
            assert mine is theirs, mine[0]  # one copy, not one per page
    assert first.not_modified_for('"a"') == (
        first.headerlist[2],
        first.headerlist[3],
        ("ETag", '"a"'),
    )


def test_a_page_is_counted_at_no_less_than_the_memory_it_holds():
    """The store's byte bound holds only if a page is counted at its real size."""
    import tracemalloc

    body = b"x" * 600
    Page("200 OK", fresh_headers('"warm"'), body)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [
            (
                ("simple_project", f"project-{n}", False, "text/html", ("http", "h:1", ""), True),
                Page("200 OK", fresh_headers(f'"{n:032x}"'), body),
            )
            for n in range(200)
        ]
        held = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert held + len(body) <= kept[0][1].size, held
