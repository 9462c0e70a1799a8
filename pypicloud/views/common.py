"""What several views share: permission answers, file URLs, file facts."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPUnauthorized
from pyramid.request import Request

from pypicloud.access.base import ADMIN
from pypicloud.models import Package


def challenge(request: Request, message: str = "Login required") -> HTTPUnauthorized:
    realm = request.services.options.realm.replace('"', "")
    response = HTTPUnauthorized(detail=message)
    response.headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return response


def require_login(request: Request) -> str:
    if request.userid is None:
        raise challenge(
            request, "Invalid credentials" if request.bad_credentials else "Login required"
        )
    return request.userid


def require_read(request: Request, name: str) -> None:
    """Anonymous: 401 so clients retry with credentials; signed in: 404, leaking nothing."""
    if request.services.access.can_read(request.principals, name):
        return
    if request.userid is None:
        raise challenge(request)
    raise HTTPNotFound()


def require_write(request: Request, name: str) -> None:
    if request.services.access.can_write(request.principals, name):
        return
    require_login(request)
    raise HTTPForbidden(f"You may not write to {name}")


def require_admin(request: Request) -> None:
    require_login(request)
    if ADMIN not in request.principals:
        raise HTTPForbidden("Admins only")


def file_url(request: Request, package: Package) -> str:
    """Where an index page points for a file: the stable URL, or a signed one."""
    services = request.services
    if not services.storage.redirect_urls and not services.options.stream_files:
        direct = services.storage.download_url(package)
        if direct:
            return direct
    return stable_file_url(request, package)


def stable_file_url(request: Request, package: Package) -> str:
    return request.route_url("api_file", name=package.name, filename=package.filename)


def upload_time(package: Package) -> str:
    return package.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def links_expire(request: Request) -> bool:
    """True when index pages embed signed URLs, which must not be cached for long."""
    services = request.services
    return not services.storage.redirect_urls and not services.options.stream_files
