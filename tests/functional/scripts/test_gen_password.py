"""ppc-gen-password: a hash of a password read from a pipe (a terminal is asked twice)."""

from __future__ import annotations

import subprocess
import sys

from pypicloud.access.passwords import HASH_COMMAND, verify_password


def test_prints_a_hash_of_stdin_that_verifies(ppc):
    result = ppc("gen-password", input="s3cret-pw\n")
    assert result.returncode == 0, result.stderr
    hashed = result.stdout.strip()
    assert hashed.startswith("$6$") and verify_password("s3cret-pw", hashed)
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_scheme_and_rounds_are_chosen(ppc):
    result = ppc("gen-password", "--scheme", "pbkdf2_sha256", "--rounds", "1234", input="pw\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("$pbkdf2-sha256$1234$")
    assert verify_password("pw", result.stdout.strip())


def test_an_empty_password_is_refused(ppc):
    result = ppc("gen-password", input="\n")
    assert result.returncode == 1 and not result.stdout
    assert result.stderr.strip() == "error: an empty password is not allowed"


def test_an_unknown_scheme_is_refused_with_the_choices(ppc):
    result = ppc("gen-password", "--scheme", "md5", input="pw\n")
    assert result.returncode == 2 and "sha512_crypt" in result.stderr


def test_help(ppc):
    result = ppc("gen-password", "--help")
    assert result.returncode == 0 and "--scheme" in result.stdout


def test_the_old_module_command_still_works():
    assert HASH_COMMAND == "ppc-gen-password"
    result = subprocess.run(
        [sys.executable, "-m", "pypicloud.access.passwords"],
        input="pw\n",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and verify_password("pw", result.stdout.strip())


def test_rounds_out_of_range_are_refused_not_clamped(ppc):
    result = ppc("gen-password", "--rounds", "5", input="pw\n")
    assert result.returncode == 1 and not result.stdout
    assert result.stderr.startswith("error: --rounds 5 is not valid for sha512_crypt")
