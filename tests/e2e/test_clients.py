"""The real pip, uv and twine against a real server process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.dists import metadata_text, wheel_bytes, wheel_name, write_dists
from tests.e2e.conftest import installed, pip_install, run, twine, uv_install
from tests.functional.conftest import PASSWORD, auth
from tests.tools import venv_tool

pytestmark = pytest.mark.e2e


def twine_upload(server, files, *extra, check=True):
    return twine(server, "bob", PASSWORD, files, *extra, check=check)


@pytest.fixture
def released(server, tmp_path):
    """A library and an app that depends on it, both private, uploaded with twine."""
    dist = tmp_path / "dist"
    files = write_dists(dist, "corp-lib", "1.0")
    files += write_dists(dist, "corp-lib", "1.1", requires_python=">=3.8")
    files += write_dists(dist, "corp-app", "2.0", requires_dist=("corp-lib>=1.0",))
    twine_upload(server, files)
    return server


def test_twine_upload_shows_in_the_index(released):
    request = urllib.request.Request(
        f"{released.url}/simple/corp-lib/",
        headers={**auth("bob"), "Accept": "application/vnd.pypi.simple.v1+json"},
    )
    page = json.load(urllib.request.urlopen(request))
    assert page["versions"] == ["1.0", "1.1"]
    assert len(page["files"]) == 4


def test_pip_installs_a_private_package_with_a_private_dependency(released, tmp_path):
    target = tmp_path / "site"
    result = pip_install(released, target, "corp-app")
    assert installed(target) == {"corp_app-2.0.dist-info", "corp_lib-1.1.dist-info"}, result.stdout


def test_pip_without_credentials_is_refused(released, tmp_path):
    result = run(
        [
            venv_tool("pip"),
            "install",
            "-v",
            "--no-cache-dir",
            "--target",
            str(tmp_path / "s"),
            "--index-url",
            released.index(user=None),
            "corp-lib",
        ],
        check=False,
    )
    assert result.returncode != 0
    assert not (tmp_path / "s").exists() or not installed(tmp_path / "s")
    anonymous = urllib.request.Request(f"{released.url}/simple/corp-lib/")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous)
    assert refused.value.code == 401


def test_uv_installs(released, tmp_path):
    target = tmp_path / "site"
    uv_install(released, target, "corp-app")
    assert installed(target) == {"corp_app-2.0.dist-info", "corp_lib-1.1.dist-info"}


def uv_publish(server, files, *extra, check=True):
    return run(
        [
            venv_tool("uv"),
            "publish",
            "--no-cache",
            "--publish-url",
            f"{server.url}/simple/",
            "-u",
            "bob",
            "-p",
            PASSWORD,
            *extra,
            *map(str, files),
        ],
        check=check,
    )


def test_uv_publish(server, tmp_path):
    files = write_dists(tmp_path / "dist", "uv-made", "0.1")
    uv_publish(server, files)
    target = tmp_path / "site"
    uv_install(server, target, "uv-made")
    assert installed(target) == {"uv_made-0.1.dist-info"}


def test_reupload_and_conflicts(released, tmp_path):
    # twine 7 allows --skip-existing only for PyPI itself; uv's --check-url is the way here.
    again = write_dists(tmp_path / "again", "corp-lib", "1.0")
    twine_upload(released, again)  # identical content: accepted like PyPI does
    uv_publish(released, again, "--check-url", released.index())
    changed = tmp_path / "changed"
    changed.mkdir()
    path = changed / wheel_name("corp-lib", "1.0")
    path.write_bytes(wheel_bytes("corp-lib", "1.0", summary="different bytes"))
    result = twine_upload(released, [path], check=False)
    assert result.returncode != 0
    assert "File already exists" in result.stdout + result.stderr


def test_twine_shows_the_reason_of_a_refusal(server, tmp_path):
    # twine checks archives itself, so send one whose metadata names another project.
    bad = tmp_path / wheel_name("mine", "1.0")
    bad.write_bytes(wheel_bytes("mine", "1.0", metadata=metadata_text("theirs", "1.0")))
    result = twine_upload(server, [bad], check=False)
    assert result.returncode != 0
    assert "400" in result.stdout + result.stderr
    assert "names another project" in result.stdout + result.stderr


def test_pip_skips_a_yanked_release(released, tmp_path):
    request = urllib.request.Request(
        f"{released.url}/api/package/corp-lib/{wheel_name('corp-lib', '1.1')}",
        data=json.dumps({"yanked": True, "reason": "bad"}).encode(),
        method="PATCH",
        headers={**auth("bob"), "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request)
    target = tmp_path / "site"
    pip_install(released, target, "--only-binary", ":all:", "corp-lib")
    assert installed(target) == {"corp_lib-1.0.dist-info"}


def test_pserve_refuses_a_bad_setting_naming_the_key(tmp_path):
    from tests.e2e.conftest import write_ini
    from tests.tools import free_port

    ini = tmp_path / "bad.ini"
    write_ini(ini, free_port(), {"pypi.allow_overwrite": "maybe"})
    result = run([venv_tool("pserve"), str(ini)], check=False, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "pypicloud cannot start: setting 'pypi.allow_overwrite': expected true or false, "
        "got 'maybe'"
    )
    assert "Traceback" not in result.stderr
