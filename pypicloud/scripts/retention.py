"""``ppc-retention``: apply the ``pypi.retention`` rules of an ini file once (from cron, or
by hand), or with ``--dry-run`` list what they would delete and change nothing.

Each release is one line on standard output: project, version, its files and the rule that
removes it; the count goes to standard error. ``--json`` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from pypicloud.retention.rules import Removal
from pypicloud.retention.runner import RetentionBusy, RunResult
from pypicloud.scripts.common import fail, load_services, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppc-retention",
        description="Delete the releases that the pypi.retention rules say go.",
    )
    p.add_argument("config", help="the server's ini file")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; change nothing"
    )
    p.add_argument("--project", metavar="NAME", help="only this project")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def line(removal: Removal) -> str:
    files = ", ".join(p.filename for p in removal.files)
    return f"{removal.project} {removal.version}: {files} [{removal.describe()}]"


def as_json(result: RunResult) -> dict:
    return {
        "dry_run": result.dry_run,
        "releases": [
            {
                "project": r.project,
                "version": r.version,
                "files": [p.filename for p in r.files],
                "reason": r.reason,
                "rule": r.rule.describe(),
            }
            for r in result.removals
        ],
    }


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    services = load_services(args.config)
    runner = services.retention
    assert runner is not None  # always built by Services.from_settings
    if not runner.options.rules:
        fail("pypi.retention has no rule: nothing to do")
    try:
        result = runner.run(dry_run=args.dry_run, project=args.project)
    except RetentionBusy as exc:
        fail(f"{exc}; try again when it is done")
    if args.json:
        print(json.dumps(as_json(result), indent=2))
    else:
        for removal in result.removals:
            print(line(removal))
    verb = "would delete" if result.dry_run else "deleted"
    print(f"{verb} {result.files} files of {len(result.removals)} releases", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
