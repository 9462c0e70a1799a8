"""An app with retention rules over file storage and a real package database (SQLite,
PostgreSQL, Redis), its services at hand, and a clock the test moves."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from pypicloud import make_config
from pypicloud.app import Services
from tests.dists import sdist_name, wheel_name
from tests.functional.conftest import base_settings, started, upload

RULES = """
    exempt-*
    proj keep=3 prerelease_age=30d dev_age=7d
"""
START = dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class Deployment:
    app: TestApp
    services: Services
    storage: Path
    settings: dict[str, Any]
    now: dt.datetime = START

    def move_clock(self, days: float) -> None:
        self.now = START + dt.timedelta(days=days)

    def stored(self) -> set[str]:
        """Every file (and sidecar) under storage.dir, as paths relative to it."""
        return {
            str(p.relative_to(self.storage))
            for p in self.storage.rglob("*")
            if p.is_file() and ".incoming" not in p.parts
        }

    def indexed(self) -> set[str]:
        return {p.filename for p in self.services.cache.all_packages()}


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def db_settings(request, tmp_path) -> dict[str, str]:
    if request.param == "redis":
        return {
            "pypi.db": "redis",
            "db.url": request.getfixturevalue("redis_url"),
            "db.redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    if request.param == "postgresql":
        return {"pypi.db": "sql", "db.url": request.getfixturevalue("postgresql_url")}
    return {"pypi.db": "sql", "db.url": f"sqlite:///{tmp_path / 'db.sqlite'}"}


@pytest.fixture
def deploy(tmp_path, db_settings):
    """``deploy(**settings)``: a started app with ``RULES`` unless told otherwise."""
    built: list[Services] = []

    def make(**extra: Any) -> Deployment:
        settings = {**base_settings(tmp_path), **db_settings, "pypi.retention": RULES, **extra}
        settings = {k: v for k, v in settings.items() if v is not None}
        config = make_config(settings, here=str(tmp_path), environ={})
        services: Services = config.registry.services
        built.append(services)
        deployment = Deployment(started(config), services, Path(settings["storage.dir"]), settings)
        assert services.retention is not None
        services.retention.clock = lambda: deployment.now
        return deployment

    yield make
    for services in built:
        if services.retention_schedule is not None:
            services.retention_schedule.stop(timeout=10)


def release(app: TestApp, name: str, version: str, *, sdist: bool = False) -> list[str]:
    """Upload a wheel (and an sdist) as bob; their filenames."""
    upload(app, name, version)
    files = [wheel_name(name, version)]
    if sdist:
        upload(app, name, version, kind="sdist")
        files.append(sdist_name(name, version))
    return files


def stored_paths(name: str, version: str, files: list[str]) -> set[str]:
    """What file storage keeps for a release: each file and its ``.meta`` sidecar."""
    return {f"{name}/{version}/{f}{suffix}" for f in files for suffix in ("", ".meta")}
