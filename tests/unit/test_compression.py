"""Accept-Encoding parsing and the gzip representation's ETag."""

from __future__ import annotations

import gzip

import pytest

from pypicloud.compression import accepts_gzip, compress, gzip_etag, identity_etag


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),  # pip (urllib3)
        ("gzip, deflate, br, zstd", True),  # uv
        ("GZIP;Q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=0, *", False),  # the explicit refusal wins over the wildcard
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("gzip;q=0, gzip;q=1", True),
    ],
)
def test_accepts_gzip_reads_q_values(header, expected):
    assert accepts_gzip(header) is expected


def test_gzip_etags_are_distinct_and_reversible():
    assert gzip_etag('"abc"') == '"abc-gzip"'
    assert gzip_etag('W/"abc"') == 'W/"abc-gzip"'
    assert identity_etag('"abc-gzip"') == '"abc"'
    assert identity_etag('"abc"') == '"abc"'


def test_compression_is_deterministic_and_lossless():
    body = b"<a href='x'>x</a>\n" * 500
    assert compress(body) == compress(body)
    assert gzip.decompress(compress(body)) == body
