"""Which names reach the upstream, and how upstream files join local ones."""

from __future__ import annotations

import datetime as dt

from pypicloud.models import Package
from pypicloud.upstream.options import FallbackOptions
from pypicloud.upstream.parsing import UpstreamFile
from pypicloud.upstream.policy import UPSTREAM_UPLOADER, FallbackPolicy

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def policy(**kwargs) -> FallbackPolicy:
    return FallbackPolicy(FallbackOptions(mode=kwargs.pop("mode", "cache"), **kwargs))


def local(version: str, uploader: str = "bob", name: str = "pkg") -> Package:
    filename = f"{name}-{version}-py3-none-any.whl"
    return Package(name, version, filename, data={"uploader": uploader})


def remote(version: str, age_days: float = 30, name: str = "pkg") -> UpstreamFile:
    return UpstreamFile(
        f"{name}-{version}-py3-none-any.whl",
        f"https://up/{name}-{version}.whl",
        version,
        "bdist_wheel",
        upload_time=NOW - dt.timedelta(days=age_days),
    )


def test_none_never_looks_up():
    assert not policy(mode="none").may_look_up("requests", [])


def test_a_name_with_a_file_uploaded_here_is_never_looked_up():
    rules = policy()
    assert rules.may_look_up("pkg", [])
    assert not rules.may_look_up("pkg", [local("1.0")])
    # Copies the cache mode made do not make a project private.
    assert rules.may_look_up("pkg", [local("1.0", UPSTREAM_UPLOADER)])


def test_disallow_patterns_are_normalized_and_win_over_allow():
    rules = policy(disallow=("acme-*",), allow=("acme-public", "requests"))
    assert not rules.name_allowed("acme-public")
    assert rules.name_allowed("requests")
    assert not rules.name_allowed("urllib3")  # not on the allow-list


def test_always_show_upstream_merges_local_projects_but_never_disallowed_ones():
    rules = policy(always_show_upstream=True, disallow=("secret",))
    assert rules.may_look_up("pkg", [local("1.0")])
    assert not rules.may_look_up("secret", [local("1.0", name="secret")])


def test_an_upstream_file_never_shadows_a_local_filename_or_version():
    kept = policy().visible(
        "pkg", [local("1.0")], [remote("1.0"), remote("1.0.0"), remote("2.0")], NOW
    )
    assert [f.version for f in kept] == ["2.0"]


def test_the_cooldown_hides_new_files_unless_exempt():
    rules = policy(min_age=3 * 86400, min_age_exempt=("pkg",))
    files = [remote("1.0", 10), remote("2.0", 1)]
    assert [f.version for f in policy(min_age=3 * 86400).visible("pkg", [], files, NOW)] == ["1.0"]
    assert [f.version for f in rules.visible("pkg", [], files, NOW)] == ["1.0", "2.0"]


def test_the_cooldown_hides_files_of_unknown_age():
    undated = UpstreamFile("pkg-1.0.tar.gz", "https://up/x", "1.0", "sdist")
    assert policy(min_age=60).visible("pkg", [], [undated], NOW) == []
    assert policy().visible("pkg", [], [undated], NOW) == [undated]


def test_a_name_no_index_could_hold_never_goes_upstream():
    """Found by tests/adversarial: ``/simple/%00/`` became a redirect header with a NUL."""
    allowed = policy(mode="redirect")
    for name in ("\x00", "\u2603", "a b", "-pkg", "pkg-", "../etc", "a/b", ""):
        assert not allowed.name_allowed(name), repr(name)
    assert allowed.name_allowed("pkg") and allowed.name_allowed("zope-interface")
