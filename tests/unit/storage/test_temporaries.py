"""The rules that tell an abandoned temporary from one someone is still writing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pypicloud.storage.temporaries import (
    ABANDONED_AFTER,
    ORIGINAL_ABANDONED_AFTER,
    is_abandoned,
    is_original_leftover,
    owner,
    parse_temporary_name,
    pid_alive,
    temporary_name,
)

ME = "build-7.example.com+4026531836"


def alive_pids(*pids: int):
    return lambda pid: pid in pids


def test_names_say_whose_they_are():
    assert parse_temporary_name(temporary_name(ME, 4242)) == (ME, 4242)
    assert parse_temporary_name(temporary_name()) == (owner(), os.getpid())
    assert temporary_name(ME, 1) != temporary_name(ME, 1)


@pytest.mark.parametrize(
    "name", ["", "plain", "host.12", "host.pid.abcd", ".12.abcd", "host.12.not-hex", "a.-1.ab"]
)
def test_names_we_did_not_make_are_not_parsed(name):
    assert parse_temporary_name(name) is None


def test_owner_is_one_name_component():
    tag = owner()
    assert tag and "/" not in tag and parse_temporary_name(f"{tag}.1.ab") == (tag, 1)


def test_this_hosts_temporary_of_a_dead_process_is_abandoned_at_once():
    name = temporary_name(ME, 100)
    assert is_abandoned(name, 0, owner_tag=ME, alive=alive_pids())
    assert not is_abandoned(name, 0, owner_tag=ME, alive=alive_pids(100))


def test_another_hosts_temporary_waits_a_day_whether_or_not_the_pid_exists_here():
    name = temporary_name("other-host", 100)
    for alive in (alive_pids(), alive_pids(100)):
        assert not is_abandoned(name, ABANDONED_AFTER - 1, owner_tag=ME, alive=alive)
        assert is_abandoned(name, ABANDONED_AFTER + 1, owner_tag=ME, alive=alive)


def test_a_temporary_unwritten_for_a_day_is_abandoned_even_if_its_process_lives():
    name = temporary_name(ME, 100)
    assert is_abandoned(name, ABANDONED_AFTER + 1, owner_tag=ME, alive=alive_pids(100))


def test_an_unknown_name_only_ages():
    assert not is_abandoned("upload.part", ABANDONED_AFTER - 1, owner_tag=ME, alive=alive_pids())
    assert is_abandoned("upload.part", ABANDONED_AFTER + 1, owner_tag=ME, alive=alive_pids())


@pytest.mark.parametrize(
    ("name", "leftover"),
    [
        (".metadata.3f9a01bc", True),
        (".mypkg-1.0.tar.gz.3f9a01bc", True),
        (".mypkg-1.0-py3-none-any.whl.0123456789abcdef", True),
        (".metadata.", False),
        (".metadata.xyz", False),
        ("mypkg-1.0.tar.gz", False),
        ("mypkg-1.0.tar.gz.meta", False),
        (".nfs000000000123abcd00000001", False),
        (".keep", False),
    ],
)
def test_original_leftovers_are_told_by_name(name, leftover):
    assert is_original_leftover(name, ORIGINAL_ABANDONED_AFTER + 1) is leftover


def test_original_leftovers_wait_an_hour():
    assert not is_original_leftover(".metadata.3f9a01bc", ORIGINAL_ABANDONED_AFTER - 1)


def test_pid_alive():
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped
    assert not pid_alive(child.pid)
    assert not pid_alive(0) and not pid_alive(-1)  # never "every process in the group"
