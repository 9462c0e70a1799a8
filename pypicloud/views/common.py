"""What several views share: who is asking, file URLs, file facts."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPUnauthorized
from pyramid.request import Request

from pypicloud.models import Package
from pypicloud.security import Identity


def identity(request: Request) -> Identity | None:
    return request.identity


def principals(request: Request) -> frozenset[str]:
    found = request.identity
    return found.principals if found else request.services.access.principals(None)


def username(request: Request) -> str | None:
    found = request.identity
    return found.username if found else None


def challenge(request: Request, message: str = "Login required") -> HTTPUnauthorized:
    """401 with a Basic challenge, so pip, keyring and browsers ask for credentials."""
    realm = request.services.options.realm.replace('"', "")
    response = HTTPUnauthorized(detail=message)
    response.headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return response


def readable(request: Request, names: frozenset[str] | list[str]) -> set[str]:
    return request.services.security.readable(request, names)


def file_url(request: Request, package: Package) -> str:
    """Where an index page points for a file: this server's stable URL, or a signed one."""
    return request.services.packages.index_link(package) or stable_file_url(request, package)


def stable_file_url(request: Request, package: Package) -> str:
    return request.route_url("api_file", name=package.name, filename=package.filename)


def upload_time(package: Package) -> str:
    return package.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
