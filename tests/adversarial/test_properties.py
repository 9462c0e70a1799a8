"""Property-based tests (hypothesis) of the parsing every request relies on.

Example counts are fixed and small so the suite stays bounded; ``deadline=None`` because
the machine running the suite is shared.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pyramid.testing import DummyRequest

from pypicloud.dists import (
    MAX_FILENAME_LENGTH,
    InvalidDistribution,
    is_valid_project_name,
    parse_filename,
    safe_path_component,
    versions_equal,
)
from pypicloud.negotiation import OFFERS, SIMPLE_JSON, TEXT_HTML, choose_content_type
from pypicloud.versions import sorted_versions, version_key

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALNUM = string.ascii_letters + string.digits
project_names = st.builds(
    lambda first, middle, last: first + middle + last if middle or last else first,
    st.sampled_from(ALNUM),
    st.text(alphabet=ALNUM + "._-", max_size=30),
    st.sampled_from(ALNUM) | st.just(""),
).filter(lambda n: is_valid_project_name(n))

versions = st.builds(
    lambda epoch, release, pre, post, dev: (
        (f"{epoch}!" if epoch else "")
        + ".".join(str(p) for p in release)
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
    ),
    st.integers(0, 3),
    st.lists(st.integers(0, 2000), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 20)),
    st.none() | st.integers(0, 20),
    st.none() | st.integers(0, 20),
)


@BOUNDED
@given(st.text(max_size=300))
@example("../alpha-1.0-py3-none-any.whl")
@example("alpha-1.0-py3-none-any.whl\x00")
@example(".alpha-1.0.tar.gz")
@example("a" * 1000 + ".whl")
def test_any_filename_parses_or_is_refused_cleanly(filename):
    try:
        dist = parse_filename(filename)
    except InvalidDistribution:
        return
    # Whatever is accepted is one safe path component with a valid project name.
    assert safe_path_component(filename) == filename
    assert len(filename) <= MAX_FILENAME_LENGTH
    assert "/" not in filename and "\\" not in filename and not filename.startswith(".")
    assert dist.name == canonicalize_name(dist.name)
    assert dist.kind in ("bdist_wheel", "sdist")


@BOUNDED
@given(project_names, versions, st.sampled_from(["wheel", "sdist", "zip"]))
def test_filenames_of_valid_releases_round_trip(name, version, kind):
    stem = canonicalize_name(name).replace("-", "_")
    filename = {
        "wheel": f"{stem}-{version}-py3-none-any.whl",
        "sdist": f"{stem}-{version}.tar.gz",
        "zip": f"{stem}-{version}.zip",
    }[kind]
    if len(filename) > MAX_FILENAME_LENGTH:
        return
    dist = parse_filename(filename)
    assert dist.name == canonicalize_name(name)
    assert versions_equal(dist.version, version)
    assert dist.kind == ("bdist_wheel" if kind == "wheel" else "sdist")


@BOUNDED
@given(st.text(max_size=60))
def test_normalization_is_idempotent_and_valid_names_stay_valid(name):
    once = canonicalize_name(name)
    assert canonicalize_name(once) == once
    if is_valid_project_name(name):
        assert is_valid_project_name(once)
        assert "/" not in once and ".." not in once and "_" not in once


@BOUNDED
@given(project_names, st.lists(st.sampled_from("-_."), min_size=1, max_size=3))
def test_separators_and_case_do_not_make_a_new_project(name, seps):
    variant = name.upper().replace("-", "".join(seps))
    if is_valid_project_name(variant):
        assert canonicalize_name(variant) == canonicalize_name(name)


@BOUNDED
@given(st.text(max_size=40))
def test_a_valid_project_name_is_plain_ascii(name):
    if is_valid_project_name(name):
        assert name.isascii() and name.strip() == name
        assert not set(name) & set("<>&\"' /\\\0")


@BOUNDED
@given(st.lists(versions | st.text(max_size=12), max_size=20))
def test_version_ordering_is_total_and_stable(values):
    ordered = sorted_versions(values)
    assert ordered == sorted_versions(reversed(values))
    assert len(ordered) == len(set(values))
    keys = [version_key(v) for v in ordered]
    assert keys == sorted(keys)


@BOUNDED
@given(versions, versions)
def test_versions_equal_agrees_with_pep440(left, right):
    assert versions_equal(left, right) == (Version(left) == Version(right))
    assert versions_equal(left, left)


@BOUNDED
@given(st.text(max_size=30))
def test_versions_equal_never_raises(text):
    try:
        expected = Version(text) == Version(text)
    except InvalidVersion:
        expected = True
    assert versions_equal(text, text) is expected


media = st.sampled_from([*OFFERS, "*/*", "text/*", "application/*", "application/json", "x/y"])
q = st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=0.001", ";q=abc", ";q=2"])
accept_headers = st.lists(st.builds(lambda m, v: m + v, media, q), max_size=5).map(", ".join)


def request_with(accept: str | None = None, fmt: str | None = None) -> DummyRequest:
    request = DummyRequest(params={"format": fmt} if fmt is not None else {})
    if accept is not None:
        request.headers["Accept"] = accept
    return request


@BOUNDED
@given(accept_headers | st.text(max_size=80))
def test_negotiation_answers_an_offer_or_none(header):
    chosen = choose_content_type(request_with(header))
    assert chosen is None or chosen in OFFERS


@BOUNDED
@given(st.sampled_from(OFFERS), accept_headers)
def test_the_only_type_with_full_quality_wins(offer, others):
    demoted = ", ".join(
        part.split(";")[0] + ";q=0.1"
        for part in others.split(", ")
        if part and "*" not in part and part.split(";")[0] != offer
    )
    header = f"{offer};q=1" + (f", {demoted}" if demoted else "")
    assert choose_content_type(request_with(header)) == offer


@BOUNDED
@given(st.text(max_size=60))
def test_format_parameter_answers_an_offer_or_none(fmt):
    chosen = choose_content_type(request_with(fmt=fmt))
    assert chosen is None or chosen in OFFERS


def test_no_accept_header_means_html_and_json_when_asked():
    assert choose_content_type(request_with()) == TEXT_HTML
    assert choose_content_type(request_with(fmt=SIMPLE_JSON)) == SIMPLE_JSON
