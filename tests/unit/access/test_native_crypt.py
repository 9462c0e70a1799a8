"""libcrypt's sha512_crypt / sha256_crypt: the same answers as passlib, without the GIL."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from passlib.hash import bcrypt, pbkdf2_sha256, sha256_crypt, sha512_crypt

from pypicloud.access import native_crypt, passwords
from pypicloud.access.native_crypt import native_dummy_verify, native_hash, native_verify
from pypicloud.access.passwords import PasswordHasher, dummy_verify, verify_password

PASSWORDS = ["pw", "", "pässwörd ✓", "a:b c", "x" * 300]


def test_libcrypt_is_there():
    # Debian's libcrypt1 is an essential package: a machine without it is not one we serve on.
    assert native_crypt.crypt_rn() is not None


@pytest.mark.parametrize("handler", [sha512_crypt, sha256_crypt])
@pytest.mark.parametrize("rounds", [1000, 5000, 12_345])
def test_the_same_answer_as_passlib(handler, rounds):
    for password in PASSWORDS:
        hashed = handler.using(rounds=rounds).hash(password)
        for attempt in {password, password + "!", password.upper(), "pw"}:
            assert native_verify(attempt, hashed) is handler.verify(attempt, hashed), (
                attempt,
                hashed,
            )


def test_what_libcrypt_cannot_check_is_left_to_passlib():
    assert native_verify("a\0b", sha512_crypt.using(rounds=1000).hash("ab")) is None
    assert native_verify("pw", pbkdf2_sha256.hash("pw")) is None
    assert native_verify("pw", "$2b$04$" + "a" * 53) is None  # bcrypt's prefix
    assert native_verify("pw", "$6$rounds=ab$salt$x") is None  # libcrypt refuses it
    assert native_verify("pw", "$6$sält$x") is None  # not ASCII
    for hashed in ("$6$rounds=ab$salt$x", "$6$rounds=500$salt$x", "$6$sält$x", "nonsense"):
        assert verify_password("pw", hashed) is False


def test_other_schemes_still_verify():
    assert verify_password("pw", pbkdf2_sha256.hash("pw"))
    if bcrypt.has_backend():
        assert verify_password("pw", bcrypt.using(rounds=4).hash("pw"))


def test_hashes_made_by_libcrypt_verify_with_passlib():
    made = [PasswordHasher("sha512_crypt", 5000).hash(p) for p in PASSWORDS]
    for password, hashed in zip(PASSWORDS, made, strict=True):
        assert hashed.startswith("$6$rounds=5000$")
        assert sha512_crypt.verify(password, hashed) and verify_password(password, hashed)
        assert not sha512_crypt.verify(password + "!", hashed)
    assert len({h.split("$")[3] for h in made}) == len(made)  # a new salt every time
    assert sha256_crypt.verify("pw", PasswordHasher("sha256_crypt", 6000).hash("pw"))
    assert native_hash("pbkdf2_sha256", "pw", 1000) is None
    assert PasswordHasher("pbkdf2_sha256").hash("pw").startswith("$pbkdf2-sha256$")
    assert passwords.hash_password("pw").startswith("$6$rounds=656000$")


def test_without_libcrypt_passlib_answers(monkeypatch):
    monkeypatch.setattr(native_crypt, "crypt_rn", lambda: None)
    hashed = sha512_crypt.using(rounds=1000).hash("pw")
    assert native_verify("pw", hashed) is None
    assert verify_password("pw", hashed) and not verify_password("px", hashed)
    assert PasswordHasher("sha512_crypt", 1000).hash("pw").startswith("$6$rounds=1000$")
    assert not native_dummy_verify(1000)
    called = []
    monkeypatch.setattr(passwords.context, "dummy_verify", lambda: called.append(1))
    dummy_verify()
    assert called == [1]


def test_the_dummy_check_runs_in_libcrypt(monkeypatch):
    called = []
    monkeypatch.setattr(passwords.context, "dummy_verify", lambda: called.append(1))
    dummy_verify()
    assert called == []
    assert native_dummy_verify(1000)


def test_other_threads_run_while_a_password_is_checked():
    """With the GIL held (passlib in pure Python) the other thread would wait a whole
    switch interval at a time; with libcrypt it keeps running."""
    hashed = sha512_crypt.using(rounds=400_000).hash("pw")  # made once: ~0.2 s in passlib
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.5)
    try:
        running, done = threading.Event(), threading.Event()
        ticks: list[float] = []

        def watch() -> None:
            running.set()
            while not done.is_set():
                ticks.append(time.perf_counter())

        watcher = threading.Thread(target=watch)
        watcher.start()
        running.wait()
        started = time.perf_counter()
        assert native_verify("pw", hashed) is True
        ended = time.perf_counter()
        done.set()
        watcher.join()
    finally:
        sys.setswitchinterval(previous)
    during = [t for t in ticks if started <= t <= ended]
    assert ended - started > 0.02  # long enough to tell
    assert len(during) > 1000, len(during)  # the other thread ran meanwhile
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    assert max(gaps) < (ended - started) / 2


def test_passwords_go_to_libcrypt_first(monkeypatch):
    def refuse(*_args):
        raise AssertionError("passlib asked")

    monkeypatch.setattr(passwords.context, "verify", refuse)
    hashed = sha512_crypt.using(rounds=1000).hash("pw")
    assert verify_password("pw", hashed) and not verify_password("px", hashed)
