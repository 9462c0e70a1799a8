"""pypicloud: a private Python package index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.tweens import EXCVIEW, INGRESS

from pypicloud.app import Services
from pypicloud.frontdoor import FrontDoor, WSGIApp
from pypicloud.logs import AccessLog, quiet_queue_warnings
from pypicloud.security import ProjectContext, csrf_applies
from pypicloud.sessions import session_factory_from_settings
from pypicloud.settings import ConfigError, Settings


def main(global_config: Mapping[str, Any], **raw: Any) -> AccessLog:
    """The WSGI application (PasteDeploy's ``use = egg:pypicloud``), with its access log.

    A bad setting ends the process with one line naming the key, not a traceback.
    """
    try:
        config = make_config(raw, here=global_config.get("here"))
    except ConfigError as exc:
        raise SystemExit(f"pypicloud cannot start: {exc}") from None
    quiet_queue_warnings()
    return AccessLog(wsgi_app(config))


def wsgi_app(config: Configurator) -> WSGIApp:
    """Pyramid's application, behind the front door when the fast path is on (the access
    log goes around both: ``main``)."""
    app = config.make_wsgi_app()
    fast = getattr(config.registry, "fast_path", None)  # set by the tween's factory
    return app if fast is None else FrontDoor(app, fast)


def make_config(
    raw: Mapping[str, Any], here: str | None = None, environ: Mapping[str, str] | None = None
) -> Configurator:
    settings = Settings(raw, environ=environ, here=here)
    services = Services.from_settings(settings)
    session_factory = session_factory_from_settings(settings)
    fast_path = settings.bool("pypi.fast_path", True)
    settings.check_unused()
    config = Configurator(settings=settings.raw(), root_factory=ProjectContext)
    config.registry.services = services  # type: ignore[attr-defined]
    config.set_security_policy(services.security)
    config.set_session_factory(session_factory)
    config.set_default_csrf_options(require_csrf=True, callback=csrf_applies)
    config.add_request_method(_services, "services", reify=True)
    config.include("pypicloud.routes")
    config.add_tween("pypicloud.tweens.observe_tween_factory", under=INGRESS)
    config.include("pypicloud.logs")
    config.scan("pypicloud.views")
    if fast_path:  # cached pages and files answered before routing (pypicloud/fastpath.py)
        config.add_tween("pypicloud.fastpath.factory", under=EXCVIEW)
    services.start()  # last: nothing below can refuse the start-up any more
    return config


def _services(request: Request) -> Services:
    return request.registry.services
