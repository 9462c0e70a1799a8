"""Security headers on every answer, not only on the UI pages that set their own.

Index pages, error pages and challenges are HTML too: none may be framed or sniffed into
another type. A page that set its own policy (views/web.py) keeps it.
"""

from __future__ import annotations

from pyramid.events import NewResponse, subscriber

HTML_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@subscriber(NewResponse)
def security_headers(event: NewResponse) -> None:
    headers = event.response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if (event.response.content_type or "").endswith("html"):
        headers.setdefault("Content-Security-Policy", HTML_POLICY)
