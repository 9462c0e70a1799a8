"""The retention rule engine over lists of releases, with a fixed clock."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from pypicloud.models import Package
from pypicloud.retention.rules import (
    RetentionOptions,
    Rule,
    parse_duration,
    parse_rule,
    parse_rules,
    plan,
)
from pypicloud.settings import ConfigError, Settings

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def release(version: str, days_old: float = 0, *, kinds=("whl",), keep=False) -> list[Package]:
    when = NOW - dt.timedelta(days=days_old)
    data = {"keep": True} if keep else {}
    names = {"whl": f"proj-{version}-py3-none-any.whl", "sdist": f"proj-{version}.tar.gz"}
    return [Package("proj", version, names[k], last_modified=when, data=dict(data)) for k in kinds]


def removed(rule: Rule, *releases: list[Package]) -> list[str]:
    files = [p for r in releases for p in r]
    return [r.version for r in plan(rule, "proj", files, NOW)]


def test_keep_n_orders_by_version_not_upload_time():
    # 1.10 was uploaded first, but it is the newest version: 1.2 and 1.9 go, not 1.10.
    rule = parse_rule("proj keep=2")
    found = removed(
        rule, release("1.10", 30), release("1.2", 1), release("1.9", 2), release("1.11")
    )
    assert found == ["1.9", "1.2"]


def test_every_file_of_a_removed_release_goes_together():
    rule = parse_rule("* keep=1")
    [removal] = plan(rule, "proj", release("1.0", kinds=("whl", "sdist")) + release("2.0"), NOW)
    assert sorted(p.filename for p in removal.files) == [
        "proj-1.0-py3-none-any.whl",
        "proj-1.0.tar.gz",
    ]
    assert removal.reason == "beyond the newest 1"
    assert removal.describe() == "beyond the newest 1 (rule '* keep=1')"


def test_prerelease_age_uses_packaging_and_a_fixed_clock():
    rule = parse_rule("* prerelease_age=30d")
    found = removed(
        rule,
        release("3.0rc1", 31),  # the newest release: never removed
        release("2.0"),
        release("2.0b1", 31),
        release("2.0a1", 29),  # too young
        release("1.0rc2", 30),  # exactly 30 days: not older
        release("1.0.post1", 400),  # a post-release is a final release
        release("1.0.dev1", 400),  # a dev release is not a pre-release here
        release("0.9b1.dev1", 400),  # nor a dev release of a pre-release
    )
    assert found == ["2.0b1"]


def test_an_age_counts_from_the_release_s_last_upload():
    rule = parse_rule("* prerelease_age=30d")
    old_wheel = release("1.0rc1", 60)
    new_sdist = release("1.0rc1", 2, kinds=("sdist",))
    assert removed(rule, old_wheel + new_sdist, release("2.0")) == []
    assert removed(rule, old_wheel, release("2.0")) == ["1.0rc1"]


def test_dev_age_covers_every_dev_release():
    rule = parse_rule("* dev_age=7d")
    found = removed(
        rule,
        release("2.0"),
        release("2.0a1.dev3", 8),  # dev of a pre-release: a dev release
        release("1.5.dev2", 6),
        release("1.5.dev1", 8),
        release("1.4rc1", 100),
    )
    assert found == ["2.0a1.dev3", "1.5.dev1"]


def test_the_newest_release_is_never_removed_even_when_old():
    rule = parse_rule("* dev_age=1d prerelease_age=1d")
    assert removed(rule, release("2.0.dev1", 100)) == []
    assert removed(rule, release("2.0rc1", 100), release("1.0", 200)) == []


def test_a_release_marked_to_keep_is_never_removed():
    rule = parse_rule("* keep=1 dev_age=1d")
    found = removed(
        rule,
        release("3.0"),
        release("2.0", keep=True),
        release("1.0.dev1", 10, keep=True),
        release("0.9"),
    )
    assert found == ["0.9"]


def test_one_marked_file_keeps_its_whole_release():
    files = release("1.0", kinds=("whl",), keep=True) + release("1.0", kinds=("sdist",))
    assert removed(parse_rule("* keep=1"), files, release("2.0")) == []


def test_versions_packaging_cannot_order_are_left_alone():
    odd = [Package("proj", "not-a-version", "proj-not-a-version.tar.gz", last_modified=NOW)]
    assert removed(parse_rule("* keep=1"), odd, release("1.0"), release("2.0")) == ["1.0"]


def test_the_version_is_reported_as_uploaded():
    assert removed(parse_rule("* keep=1"), release("1.0.0"), release("2")) == ["1.0.0"]


def test_first_matching_pattern_wins_in_the_order_written():
    options = RetentionOptions(
        rules=tuple(parse_rules("internal-tools\nInternal_* keep=5\n* keep=1\n"))
    )
    assert options.rule_for("internal-tools").keep is None  # exempt: listed first
    assert options.rule_for("internal.lib").keep == 5  # normalized on both sides
    assert options.rule_for("other").keep == 1
    assert RetentionOptions(rules=(parse_rule("a* keep=1"),)).rule_for("beta") is None


def test_a_pattern_alone_exempts():
    assert removed(parse_rule("proj"), release("1.0", 999), release("2.0")) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600)],
)
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("* kep=3", "unknown option 'kep=3'"),
        ("* keep=0", "keep: expected a whole number of at least 1"),
        ("* keep=ten", "keep: expected a whole number"),
        ("* dev_age=7", "expected a duration"),
        ("* prerelease_age=soon", "expected a duration"),
        ("* keep=1 keep=2", "keep is given twice"),
        ("keep=3", "starts with an option"),
        ("* keep", "unknown option 'keep'"),
    ],
)
def test_bad_rules_say_what_is_wrong(line, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_rule(line)


def test_settings_errors_name_the_key_and_the_line():
    with pytest.raises(ConfigError, match=r"'pypi.retention': line 2: unknown option"):
        RetentionOptions.from_settings(
            Settings({"pypi.retention": "a keep=1\nb kep=2"}, environ={})
        )
    with pytest.raises(ConfigError, match="'pypi.retention_interval'"):
        RetentionOptions.from_settings(
            Settings({"pypi.retention": "* keep=1", "pypi.retention_interval": "daily"}, {})
        )
    with pytest.raises(ConfigError, match="at least 1m"):
        RetentionOptions.from_settings(
            Settings({"pypi.retention": "* keep=1", "pypi.retention_interval": "30s"}, {})
        )
    with pytest.raises(ConfigError, match="has no rule"):
        RetentionOptions.from_settings(Settings({"pypi.retention_interval": "1d"}, environ={}))


def test_settings_defaults_are_off():
    options = RetentionOptions.from_settings(Settings({}, environ={}))
    assert options.rules == () and options.interval is None
    options = RetentionOptions.from_settings(
        Settings(
            {"pypi.retention": "# nothing yet\n* keep=3 # all", "pypi.retention_interval": "1d"}, {}
        )
    )
    assert options.rules == (Rule("*", keep=3),) and options.interval == 86400


def test_one_line_holds_several_rules_separated_by_semicolons():
    settings = Settings({}, environ={"PPC_PYPI_RETENTION": "exempt-* ; * keep=3"})
    options = RetentionOptions.from_settings(settings)
    assert options.rules == (Rule("exempt-*"), Rule("*", keep=3))
