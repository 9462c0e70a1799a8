"""sha512_crypt and sha256_crypt checked by the system's libcrypt, outside the GIL.

These are the schemes the original pypicloud wrote (``$6$``, 656,000 rounds by default). On
Python 3.11+ passlib checks them in pure Python: 0.3 s here with the GIL held, so every
other request of the process waits while one password is checked (a 364 ms stall of
``/simple/`` each time the credential cache let a password go). libcrypt (libxcrypt, as
the old ``crypt`` module used) computes the same string in C, and ctypes lets the other
threads run meanwhile. A hash libcrypt cannot check (another scheme, a malformed one, a
password with a NUL, no libcrypt) is left to passlib: the answer is the same either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hmac
import secrets
from collections.abc import Callable

SCHEME_PREFIXES = ("$5$", "$6$")
#: passlib's names for them.
PREFIX_OF = {"sha256_crypt": "$5$", "sha512_crypt": "$6$"}
SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SALT_LENGTH = 16  # the most these schemes use, as passlib makes them
#: ``crypt_rn`` needs at least sizeof(struct crypt_data): 32,768 bytes and a little in
#: libxcrypt. One buffer per check, so threads never share one.
DATA_SIZE = 65_536
#: What an unknown user name is checked against: the cost of a real default hash.
DUMMY_PASSWORD = "not a password"

CryptRn = Callable[[bytes, bytes, ctypes.Array[ctypes.c_char], int], bytes | None]


@functools.cache
def crypt_rn() -> CryptRn | None:
    """libcrypt's reentrant ``crypt_rn``, or None where the system has none."""
    for name in ("libcrypt.so.1", ctypes.util.find_library("crypt")):
        if not name:
            continue
        try:
            function = ctypes.CDLL(name).crypt_rn  # CDLL: the GIL is released per call
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_char_p
        function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        return function  # type: ignore[no-any-return]
    return None


def native_verify(password: str, hashed: str) -> bool | None:
    """Whether ``password`` matches a ``$5$``/``$6$`` hash, or None to ask passlib."""
    if not hashed.startswith(SCHEME_PREFIXES) or "\0" in password:
        return None
    function = crypt_rn()
    if function is None:
        return None
    try:
        setting = hashed.encode("ascii")
    except UnicodeEncodeError:
        return None
    data = ctypes.create_string_buffer(DATA_SIZE)
    result = function(password.encode("utf-8"), setting, data, DATA_SIZE)
    if not result or result.startswith(b"*"):
        return None  # libcrypt refused the setting: passlib says why (False)
    return hmac.compare_digest(result, setting)


def native_hash(scheme: str, password: str, rounds: int) -> str | None:
    """A new ``scheme`` hash of ``password`` made by libcrypt (a random 16-character salt),
    or None for passlib to make: a scheme libcrypt does not make here, or no libcrypt."""
    prefix = PREFIX_OF.get(scheme)
    function = crypt_rn()
    if prefix is None or function is None or "\0" in password:
        return None
    salt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(SALT_LENGTH))
    setting = f"{prefix}rounds={rounds}${salt}".encode("ascii")
    data = ctypes.create_string_buffer(DATA_SIZE)
    result = function(password.encode("utf-8"), setting, data, DATA_SIZE)
    if not result or result.startswith(b"*"):
        return None
    return result.decode("ascii")


def native_dummy_verify(rounds: int) -> bool:
    """A check as costly as a real ``$6$`` one with ``rounds``; False where libcrypt is
    missing (the caller then asks passlib)."""
    setting = f"$6$rounds={rounds}$pypicloud.dummy$"
    return native_verify(DUMMY_PASSWORD, setting) is not None
