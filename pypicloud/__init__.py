"""pypicloud: a private Python package index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.router import Router

from pypicloud.app import Services
from pypicloud.security import basic_credentials
from pypicloud.settings import ConfigError, Settings


def main(global_config: Mapping[str, Any], **raw: Any) -> Router:
    """The WSGI application (PasteDeploy's ``use = egg:pypicloud``).

    A bad setting ends the process with one line naming the key, not a traceback.
    """
    try:
        config = make_config(raw, here=global_config.get("here"))
    except ConfigError as exc:
        raise SystemExit(f"pypicloud cannot start: {exc}") from None
    return config.make_wsgi_app()


def make_config(
    raw: Mapping[str, Any], here: str | None = None, environ: Mapping[str, str] | None = None
) -> Configurator:
    settings = Settings(raw, environ=environ, here=here)
    services = Services.from_settings(settings)
    settings.check_unused()
    config = Configurator(settings=settings.raw())
    config.registry.services = services  # type: ignore[attr-defined]
    config.add_request_method(_services, "services", reify=True)
    config.add_request_method(_userid, "userid", reify=True)
    config.add_request_method(_principals, "principals", reify=True)
    config.add_request_method(_bad_credentials, "bad_credentials", reify=True)
    config.include("pypicloud.routes")
    config.scan("pypicloud.views")
    return config


def _services(request: Request) -> Services:
    return request.registry.services


def _userid(request: Request) -> str | None:
    return request.services.authenticator.userid(request)


def _principals(request: Request) -> frozenset[str]:
    return request.services.access.principals(request.userid)


def _bad_credentials(request: Request) -> bool:
    return request.userid is None and basic_credentials(request) is not None
