"""The server factory: pserve's host=/port= variables, and one line when binding fails."""

from __future__ import annotations

import errno
import socket

import pytest

from pypicloud.serve import bind_problem, first_address, server_factory, with_address


@pytest.mark.parametrize(
    ("variables", "listen"),
    [
        ({"port": "8080"}, "localhost:8080"),
        ({"host": "0.0.0.0"}, "0.0.0.0:6543"),
        ({"host": "::1", "port": "9000"}, "[::1]:9000"),
        ({"host": "127.0.0.1", "port": 7000, "here": "/srv"}, "127.0.0.1:7000"),
    ],
)
def test_variables_replace_the_listen_option(variables, listen):
    options = {"listen": "localhost:6543", "threads": "8"}
    assert with_address(options, variables) == {"listen": listen, "threads": "8"}


def test_without_variables_the_options_stay():
    options = {"listen": "localhost:6543 [::1]:6543", "threads": "8"}
    assert with_address(options, {"here": "/srv", "__file__": "/srv/x.ini"}) == options


def test_variables_replace_waitress_host_and_port_options():
    options = {"host": "127.0.0.1", "port": "6543"}
    assert with_address(options, {"port": "1234"}) == {"listen": "127.0.0.1:1234"}


@pytest.mark.parametrize(
    ("options", "address"),
    [
        ({}, ("0.0.0.0", "8080")),
        ({"listen": "[::1]:6543 localhost:6543"}, ("::1", "6543")),
        ({"listen": "*:6543"}, ("*", "6543")),
        ({"listen": "example.org"}, ("example.org", "8080")),
        ({"host": "example.org", "port": "81"}, ("example.org", "81")),
    ],
)
def test_first_address(options, address):
    assert first_address(options) == address


def test_bind_problems_are_one_line_naming_the_address():
    options = {"listen": "localhost:6543"}
    in_use = OSError(errno.EADDRINUSE, "Address already in use")
    assert bind_problem(in_use, options) == "address localhost:6543 is already in use"
    denied = OSError(errno.EACCES, "Permission denied")
    assert bind_problem(denied, {"listen": "0.0.0.0:80"}) == (
        "cannot listen on 0.0.0.0:80: Permission denied"
    )


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_is_named(taken_port):
    with pytest.raises(SystemExit) as stop:
        server_factory({"port": str(taken_port)}, listen="127.0.0.1:6543", threads="2")
    assert str(stop.value) == (
        f"pypicloud cannot start: address 127.0.0.1:{taken_port} is already in use"
    )


def test_an_unknown_server_option_is_named():
    with pytest.raises(SystemExit) as stop:
        server_factory({}, listen="127.0.0.1:0", thraeds="2")
    assert str(stop.value) == "pypicloud cannot start: [server:main]: Unknown adjustment 'thraeds'"


def test_an_unknown_host_is_named():
    with pytest.raises(SystemExit) as stop:
        server_factory({}, listen="no-such-host.invalid:6543")
    assert str(stop.value) == (
        "pypicloud cannot start: cannot listen on no-such-host.invalid:6543: "
        "unknown host or bad port"
    )
