from __future__ import annotations

from pypicloud.pages import PageCache


def test_renders_once_per_serial_and_key():
    cache = PageCache()
    calls = []

    def render() -> bytes:
        calls.append(1)
        return b"page"

    first = cache.get(1, "k", render)
    assert cache.get(1, "k", render) == first
    assert len(calls) == 1
    assert cache.get(2, "k", render) == b"page"
    assert len(calls) == 2
    assert PageCache.etag_for(1, "k") != PageCache.etag_for(2, "k")  # new serial, new ETag


def test_bounded():
    cache = PageCache(max_entries=2)
    for key in "abc":
        cache.get(1, key, lambda: b"x")
    assert len(cache._pages) == 2
