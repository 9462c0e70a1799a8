"""The web UI's home page, and what every UI page shares (layout context, HTML answers).

Pages take the same identities as the index (session cookie, Basic, token) and show only
the projects the viewer may read, through one batched check. Forms carry the session's CSRF
token; Pyramid checks it on every POST made with the session cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pyramid.csrf import get_csrf_token
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.cache.base import ProjectSummary
from pypicloud.security import ADMINISTER, LIST
from pypicloud.templating import render
from pypicloud.views.common import readable, username

PAGE_SIZE = 50
MAX_QUERY = 200


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A UI page: ``template`` rendered with the layout's context (who is signed in, the
    CSRF token for forms, asked for only when a form is rendered)."""
    identity = request.identity
    html = render(
        template,
        request=request,
        user=identity.username if identity else None,
        by_session=identity is not None and identity.method == "session",
        csrf_token=lambda: get_csrf_token(request),
        static=lambda path: request.static_path(f"pypicloud:static/{path}"),
        **context,
    )
    response = Response(html, status=status, content_type="text/html", charset="utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.cache_control = "private, no-cache"
    return response


def with_user(url: str, user: str | None) -> str:
    """The URL with ``user@`` in it (never a password: pip and uv ask, or use keyring)."""
    if not user:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{parts.netloc}"))


def install_lines(request: Request, project: str = "PACKAGE") -> dict[str, str]:
    """The exact client lines for this server, with the viewer's user name filled in."""
    user = username(request)
    index = request.route_url("simple_index")
    url = with_user(index, user)
    twine_user = f" -u {user}" if user else ""
    return {
        "pip": f"pip install --index-url {url} {project}",
        "uv": f"uv pip install --index-url {url} {project}",
        "pip.conf": f"[global]\nindex-url = {url}",
        "uv.toml": f'[[index]]\nurl = "{url}"\ndefault = true',
        "twine": f"twine upload --repository-url {index}{twine_user} dist/*",
    }


def search(
    rows: list[ProjectSummary],
    visible: set[str],
    query: str,
    by_name_only: Callable[[], frozenset[str]] = frozenset,
) -> list[ProjectSummary]:
    """The visible rows whose name or summary contains every word of ``query``.

    A row named in ``by_name_only()`` (asked once, only when a summary would decide a
    match) is matched on its name alone. The home page passes the quarantined projects to
    anyone but an admin: a summary comes from a file, and a quarantined project's files
    are hidden from them, so a hit on it would tell what the hidden file says. PyPI drops
    quarantined projects from its search altogether; here a listing with no query shows
    every readable project, a quarantined one by name with its tag, so a search finds it
    by that name too and by nothing else. Admins see everything, so nothing is excluded."""
    words = query.lower().split()
    excluded: frozenset[str] | None = None
    found = []
    for row in rows:
        if row.name not in visible:
            continue
        if words:
            text = f"{row.name} {row.summary or ''}".lower()
            if not all(word in text for word in words):
                continue
            if not all(word in row.name.lower() for word in words):  # the summary decided
                if excluded is None:
                    excluded = by_name_only()
                if row.name in excluded:
                    continue
        found.append(row)
    return found


def unsearchable_summaries(request: Request) -> Callable[[], frozenset[str]]:
    """The projects whose summary this viewer's search may not match: the quarantined
    ones, but to admins (see ``search``)."""
    if request.has_permission(ADMINISTER):
        return frozenset
    return request.services.packages.quarantined


def quarantined_rows(request: Request, rows: list[ProjectSummary]) -> set[str]:
    """The shown rows' quarantined projects: their latest version, summary and last upload
    come from files, which only admins see. Asked of one page of rows, not of every
    project (each name's status is a database read once per serial)."""
    packages = request.services.packages
    return {row.name for row in rows if packages.status(row.name).hides_files}


def page_number(request: Request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@view_config(route_name="root", request_method=("GET", "HEAD"))
def home(request: Request) -> Response:
    """The projects the viewer may read, searchable; an anonymous visitor of a private
    server sees only how to connect and where to sign in (no project is listed)."""
    query = str(request.GET.get("q", ""))[:MAX_QUERY].strip()
    may_list = bool(request.has_permission(LIST))
    rows: list[ProjectSummary] = []
    if may_list:
        summary = request.services.packages.summary()
        visible = readable(request, [row.name for row in summary])
        rows = search(summary, visible, query, unsearchable_summaries(request))
    number = page_number(request)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = min(number, pages)
    shown = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    quarantined = quarantined_rows(request, shown)
    return page(
        request,
        "home.html",
        may_list=may_list,
        projects=shown,
        quarantined=quarantined,
        withheld=set() if request.has_permission(ADMINISTER) else quarantined,
        total=len(rows),
        query=query,
        number=number,
        pages=pages,
        lines=install_lines(request),
    )
