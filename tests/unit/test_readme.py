"""README.rst is the newcomer's guide: it must render (merges have broken its tables)."""

from __future__ import annotations

import io

import docutils.core

from tests.tools import ROOT


def test_the_readme_renders_without_warnings():
    problems = io.StringIO()
    docutils.core.publish_doctree(
        (ROOT / "README.rst").read_text(),
        settings_overrides={"warning_stream": problems, "report_level": 2, "halt_level": 5},
    )
    assert problems.getvalue() == ""
