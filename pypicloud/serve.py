"""The server of ``[server:main] use = egg:pypicloud#main``: waitress, plus two things.

- ``pserve development.ini host=0.0.0.0 port=8080`` works although the ini names an
  address: PasteDeploy lets ``[DEFAULT]`` values win over pserve's variables, so the ini
  keeps a plain ``listen`` and the variables, which reach us in ``global_conf``, replace it.
- An address that cannot be bound (in use, not ours) or a bad server option ends start-up
  with one line saying so, not a traceback. The sockets are bound here, in the factory,
  before the application loads: pserve swallows a SystemExit raised while serving and
  exits with status 0, but not one raised while it loads the server.

Every waitress option in ``[server:main]`` is passed to waitress unchanged.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from waitress.server import create_server

#: What waitress listens on when the ini names no address.
WAITRESS_HOST = "0.0.0.0"
WAITRESS_PORT = "8080"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LateApp:
    """Stands for the application while the sockets are bound before it is loaded."""

    app: WSGIApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "requests are only read once serve() has the app"
        return self.app(environ, start_response)


def server_factory(global_conf: Mapping[str, Any], **options: Any) -> Callable[[WSGIApp], None]:
    """PasteDeploy's server factory protocol: bind now, serve the app once it is loaded."""
    options = with_address(options, global_conf)
    late = LateApp()
    try:
        server = create_server(late, **options)
    except OSError as exc:
        raise SystemExit(f"pypicloud cannot start: {bind_problem(exc, options)}") from None
    except ValueError as exc:  # waitress rejects an option (naming it) or the address
        raise SystemExit(f"pypicloud cannot start: {option_problem(exc, options)}") from None

    def serve(app: WSGIApp) -> None:
        late.app = app
        logging.basicConfig()  # as waitress.serve does; a no-op once pserve set up logging
        server.print_listen("Serving on http://{}:{}")
        server.run()

    return serve


def with_address(options: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The options with pserve's ``host``/``port`` variables, if given, as the one address."""
    host, port = variables.get("host"), variables.get("port")
    if not host and not port:
        return dict(options)
    ini_host, ini_port = first_address(options)
    chosen = {k: v for k, v in options.items() if k not in ("listen", "host", "port")}
    chosen["listen"] = join_address(str(host or ini_host), str(port or ini_port))
    return chosen


def first_address(options: Mapping[str, Any]) -> tuple[str, str]:
    """The host and port of the first address the options name (waitress's defaults)."""
    listen = str(options.get("listen") or "").split()
    if not listen:
        host = str(options.get("host") or WAITRESS_HOST)
        return host, str(options.get("port") or WAITRESS_PORT)
    first = listen[0]
    if ":" not in first or first.endswith("]"):  # waitress reads "name" alone as a host
        return first.strip("[]"), str(options.get("port") or WAITRESS_PORT)
    host, _, port = first.rpartition(":")
    return host.strip("[]"), port


def join_address(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def describe_address(options: Mapping[str, Any]) -> str:
    """What the options ask to listen on, as a user wrote it."""
    if options.get("unix_socket"):
        return str(options["unix_socket"])
    if options.get("listen"):
        return " ".join(str(options["listen"]).split())
    return join_address(*first_address(options))


def bind_problem(error: OSError, options: Mapping[str, Any]) -> str:
    address = describe_address(options)
    if error.errno == errno.EADDRINUSE:
        return f"address {address} is already in use"
    return f"cannot listen on {address}: {error.strerror or error}"


def option_problem(error: ValueError, options: Mapping[str, Any]) -> str:
    if "host/port" in str(error):  # waitress could not resolve the address
        return f"cannot listen on {describe_address(options)}: unknown host or bad port"
    return f"[server:main]: {error}"
