"""Choosing the simple API's representation from ``Accept`` and ``?format=`` (PEP 691)."""

from __future__ import annotations

from pyramid.request import Request
from webob.acceptparse import create_accept_header

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
# Server preference on ties: plain HTML first, as the most widely understood.
OFFERS = [TEXT_HTML, SIMPLE_HTML, SIMPLE_JSON]
LATEST_ALIASES = {
    "application/vnd.pypi.simple.latest+json": SIMPLE_JSON,
    "application/vnd.pypi.simple.latest+html": SIMPLE_HTML,
}


def choose_content_type(request: Request) -> str | None:
    """The content type to answer with, or None when nothing acceptable is offered (406)."""
    forced = request.GET.get("format")
    if forced:
        forced = forced.strip().replace(" ", "+")  # an unescaped "+" arrives as a space
        forced = LATEST_ALIASES.get(forced, forced)
        return forced if forced in OFFERS else None
    header = request.headers.get("Accept", "").strip()
    if not header:
        return TEXT_HTML
    for alias, real in LATEST_ALIASES.items():
        header = header.replace(alias, real)
    offers = create_accept_header(header).acceptable_offers(OFFERS)
    return offers[0][0] if offers else None
