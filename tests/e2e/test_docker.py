"""The Dockerfile, without Docker: its shape, and the very commands it runs, run here.

The image's build, install and start commands live in deploy/docker-*.sh; the Dockerfile
only calls them, which the first test checks, and the last runs them in fresh virtual
environments as the two stages would: wheels built, installed with no index, served,
health-checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.production import SESSION_KEY
from tests.tools import ROOT, free_port, stop_process, wait_for_port

DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
COMPILERS = ("gcc", "g++", "build-essential", "libc6-dev", "-dev ")


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction == "FROM":
            found.append([])
        found[-1].append((instruction, " ".join(rest.split())))
    return found


def instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for instruction, rest in stage if instruction == name]


def test_two_stages_on_a_slim_base_the_compiler_only_in_the_first():
    build, final = stages()
    assert instructions(build, "FROM") == ["python:3.11-slim AS build"]
    assert instructions(final, "FROM") == ["python:3.11-slim"]
    assert any("gcc" in run for run in instructions(build, "RUN"))
    for run in instructions(final, "RUN"):
        assert not any(tool in run + " " for tool in COMPILERS), run


def test_the_image_runs_the_scripts_the_tests_run():
    build, final = stages()
    assert "docker-build.sh /src /wheels" in instructions(build, "RUN")
    assert any(
        run.startswith("docker-install.sh /tmp/wheels") for run in instructions(final, "RUN")
    )
    assert instructions(final, "ENTRYPOINT") == ['["docker-entrypoint.sh"]']
    assert instructions(final, "CMD") == ['["serve"]']
    healthcheck = instructions(final, "HEALTHCHECK")
    assert healthcheck and healthcheck[0].endswith('CMD ["docker-entrypoint.sh", "health"]')


def test_non_root_a_volume_and_the_shipped_production_ini():
    _, final = stages()
    assert instructions(final, "USER") == ["pypicloud"]
    assert any("useradd --system --uid 10001" in run for run in instructions(final, "RUN"))
    assert instructions(final, "VOLUME") == ['["/var/lib/pypicloud"]']
    assert "production.ini /etc/pypicloud/production.ini" in instructions(final, "COPY")
    env = " ".join(instructions(final, "ENV"))
    assert "PYPICLOUD_INI=/etc/pypicloud/production.ini" in env


def test_every_backend_extra_is_installed():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    backends = {name for name, deps in extras.items() if deps and name != "test"}
    for script in ("docker-build.sh", "docker-install.sh"):
        listed = re.search(r"\[([a-z,]+)\]", (DEPLOY / script).read_text())
        assert listed and set(listed[1].split(",")) == backends, script


def test_dockerignore_keeps_what_the_build_copies():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    copied = {"pyproject.toml", "README.rst", "LICENSE", "pypicloud", "deploy", "production.ini"}
    assert not copied & ignored


def venv(path: Path) -> dict[str, str]:
    """A fresh virtual environment; the environment variables that put it first."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return {**os.environ, "PATH": f"{path / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def build_context(source: Path) -> Path:
    """What the build stage's COPY lines put in /src, copied to ``source``."""
    build, _ = stages()
    for copy in instructions(build, "COPY"):
        *sources, target = copy.split()
        if target.startswith("/"):  # the scripts, to /usr/local/bin
            continue
        for name in sources:
            origin = ROOT / name
            destination = source / (target if target not in ("./", ".") else name)
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, destination)
    return source


@pytest.mark.e2e
def test_build_install_serve_and_healthcheck_as_the_image_does(tmp_path):
    wheels = tmp_path / "wheels"
    source = build_context(tmp_path / "src")
    build_env = venv(tmp_path / "build")
    subprocess.run([str(DEPLOY / "docker-build.sh"), str(source), str(wheels)], env=build_env,
                   check=True, capture_output=True, timeout=900)  # fmt: skip
    final_env = venv(tmp_path / "final")
    subprocess.run([str(DEPLOY / "docker-install.sh"), str(wheels)], env=final_env,
                   check=True, capture_output=True, timeout=900)  # fmt: skip
    data = tmp_path / "data"
    port = free_port()
    env = {
        **{k: v for k, v in final_env.items() if not k.startswith("PPC_")},
        "PYPICLOUD_INI": str(ROOT / "production.ini"),  # the file the image copies
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PPC_STORAGE_ACCEL_REDIRECT": "",  # as the image's ENV
        "PPC_STORAGE_DIR": str(data / "packages"),
        "PPC_DB_URL": f"sqlite:///{data / 'db.sqlite'}",
    }
    entrypoint = str(DEPLOY / "docker-entrypoint.sh")
    refused = subprocess.run([entrypoint], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "session.validate_key" in refused.stderr
    env["PPC_SESSION_VALIDATE_KEY"] = SESSION_KEY
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([entrypoint], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, timeout=60)
        # As Docker does within --start-period: a 503 while the first rebuild runs is fine.
        deadline = time.monotonic() + 20
        while True:
            health = subprocess.run([entrypoint, "health"], env=env, capture_output=True)
            if health.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert health.returncode == 0, (health.stderr, _health_body(port), log.read_text())
        assert "no user can log in" in log.read_text()  # the shipped ini lists no user
    finally:
        stop_process(process)
    env["PORT"] = str(free_port())  # nothing listens there: the health check fails
    assert subprocess.run([entrypoint, "health"], env=env, capture_output=True).returncode != 0


def _health_body(port: int) -> str:
    """What /health says (anonymous: each check's ok flag), for a failure's message."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.read().decode()
