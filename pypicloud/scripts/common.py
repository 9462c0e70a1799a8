"""What every ``ppc-*`` command shares: loading an ini file into the app's services, errors.

The services are built by the app factory itself (``pypicloud.make_config``), so a setting
means the same to a command as to the server, and a bad one fails with the same one line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from pypicloud.app import Services
from pypicloud.settings import ConfigError, Settings


class CommandError(Exception):
    """A failure the user can act on: printed as one line on stderr, exit status 1."""


def fail(message: str) -> NoReturn:
    raise CommandError(message)


def _app_section(ini: str) -> Any:
    from pyramid.paster import get_appsettings

    path = Path(ini)
    if not path.is_file():
        fail(f"{ini}: no such file")
    try:
        return get_appsettings(str(path))
    except LookupError as exc:
        fail(f"{ini}: {exc}")


def load_settings(ini: str) -> Settings:
    """The ini file's ``[app:main]`` settings (with ``PPC_*`` overrides), for a command's own
    keys; ``load_services`` has checked them all."""
    raw = _app_section(ini)
    return Settings(raw, here=raw.global_conf.get("here"))


def load_services(ini: str) -> Services:
    """The services of the ini file's ``[app:main]`` section, as the server builds them."""
    from pyramid.paster import setup_logging

    raw = _app_section(ini)
    setup_logging(ini)
    # A command opens no sessions: the server's warning about their key would only confuse.
    logging.getLogger("pypicloud.sessions").setLevel(logging.ERROR)
    from pypicloud import make_config

    try:
        config = make_config(raw, here=raw.global_conf.get("here"))
    except ConfigError as exc:
        fail(f"pypicloud cannot start: {exc}")
    services = config.registry.services
    if services.retention_schedule is not None:  # a command runs no scheduled task
        services.retention_schedule.stop()
    services.packages.rebuilder.wait()  # a command works on the whole database, as before
    return services  # type: ignore[no-any-return]


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a command's body: a CommandError or Ctrl-C is one line on stderr, not a traceback."""
    try:
        return main(argv)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
