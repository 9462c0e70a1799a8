"""The landing page: where to point pip and twine."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.templating import render
from pypicloud.views.common import username


@view_config(route_name="root", request_method=("GET", "HEAD"))
def landing(request: Request) -> Response:
    body = render(
        "root.html",
        simple_url=request.route_url("simple_index"),
        userid=username(request),
    )
    return Response(body, content_type="text/html", charset="utf-8")
