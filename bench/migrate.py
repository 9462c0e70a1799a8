"""Measure ``ppc-migrate`` from file storage to S3 (a local ``moto_server``).

Writes ``--files`` tiny wheels in the file layout (with ``.meta``), starts moto on a free
port, runs ``ppc-migrate`` once and prints files/s and MB/s (wall time of the command,
start-up and database rebuild included).

    .venv/bin/python bench/migrate.py --files 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dists import wheel_bytes, wheel_name  # noqa: E402
from tests.fixtures.s3 import CREDENTIALS, REGION  # noqa: E402
from tests.functional.scripts.conftest import write_ini  # noqa: E402
from tests.tools import free_port, running, venv_tool  # noqa: E402


def fill(storage: Path, files: int, versions: int = 10) -> int:
    """``files`` wheels, ``versions`` per project; returns their total size in bytes."""
    total = 0
    for i in range(files):
        name, version = f"bench-{i // versions}", f"1.{i % versions}"
        data = wheel_bytes(name, version)
        path = storage / name / version / wheel_name(name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        meta = {"summary": name, "hash_sha256": hashlib.sha256(data).hexdigest()}
        Path(f"{path}.meta").write_text(json.dumps(meta))
        total += len(data)
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        size = fill(base / "packages", args.files)
        source = write_ini(
            base / "source.ini",
            {
                "pypi.storage": "file",
                "storage.dir": base / "packages",
                "pypi.db": "sql",
                "db.url": f"sqlite:///{base / 'source.sqlite'}",
            },
        )
        port = free_port()
        (base / "moto").mkdir()
        command = [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
        with running(command, port, base / "moto"):
            destination = write_ini(
                base / "destination.ini",
                {
                    "pypi.storage": "s3",
                    "storage.bucket": "bench-migrate",
                    "storage.endpoint_url": f"http://127.0.0.1:{port}",
                    "storage.region_name": REGION,
                    "storage.aws_access_key_id": CREDENTIALS["aws_access_key_id"],
                    "storage.aws_secret_access_key": CREDENTIALS["aws_secret_access_key"],
                    "pypi.db": "sql",
                    "db.url": f"sqlite:///{base / 'destination.sqlite'}",
                },
            )
            started = time.perf_counter()
            result = subprocess.run(
                [venv_tool("ppc-migrate"), str(source), str(destination)],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"ppc-migrate failed:\n{result.stderr}")
    print(result.stderr.strip().splitlines()[-1])
    print(
        f"{args.files} files, {size / 1e6:.2f} MB in {seconds:.1f} s: "
        f"{args.files / seconds:.0f} files/s, {size / 1e6 / seconds:.2f} MB/s"
    )


if __name__ == "__main__":
    main()
