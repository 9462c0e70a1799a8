"""Password hashes, and the module command that ppc-gen-password replaced."""

from __future__ import annotations

import subprocess
import sys

from pypicloud.access.passwords import hash_password, is_known_hash, verify_password


def test_round_trip():
    hashed = hash_password("pw")
    assert hashed.startswith("$6$") and is_known_hash(hashed)
    assert verify_password("pw", hashed) and not verify_password("other", hashed)
    assert not verify_password("pw", "not-a-hash")


def test_the_module_command_prints_a_hash_read_from_stdin():
    args = [sys.executable, "-m", "pypicloud.access.passwords"]
    result = subprocess.run(args, input="s3cret\n", capture_output=True, text=True, check=True)
    hashed = result.stdout.strip()
    assert verify_password("s3cret", hashed)
    assert "s3cret" not in result.stdout + result.stderr


def test_an_empty_password_is_refused():
    args = [sys.executable, "-m", "pypicloud.access.passwords"]
    result = subprocess.run(args, input="\n", capture_output=True, text=True)
    assert result.returncode == 1 and not result.stdout
