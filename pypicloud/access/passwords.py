"""Password hashing with passlib; the schemes the original pypicloud and its users wrote.

``ppc-gen-password`` (``pypicloud.scripts.gen_password``) prints a hash for a password typed
twice (or read from standard input); ``python -m pypicloud.access.passwords`` still runs it.
"""

from __future__ import annotations

import functools

from passlib.context import CryptContext
from passlib.registry import get_crypt_handler

from pypicloud.access.native_crypt import native_dummy_verify, native_hash, native_verify
from pypicloud.settings import ConfigError, Settings

SCHEMES = ["sha512_crypt", "sha256_crypt", "pbkdf2_sha512", "pbkdf2_sha256", "bcrypt", "argon2"]
DEFAULT_SCHEME = "sha512_crypt"
HASH_COMMAND = "ppc-gen-password"


def _available(scheme: str) -> bool:
    handler = get_crypt_handler(scheme)
    has_backend = getattr(handler, "has_backend", None)
    return has_backend is None or bool(has_backend())


context = CryptContext(schemes=[s for s in SCHEMES if _available(s)], default=DEFAULT_SCHEME)


def hash_password(password: str) -> str:
    return native_hash(DEFAULT_SCHEME, password, _default_rounds()) or context.hash(password)


class PasswordHasher:
    """Hashes new passwords with ``auth.scheme`` / ``auth.rounds``; checks any known scheme."""

    def __init__(self, scheme: str = DEFAULT_SCHEME, rounds: int | None = None) -> None:
        options: dict[str, object] = {}
        if rounds is not None:
            options[f"{scheme}__rounds"] = rounds
        self.context = context.copy(default=scheme, **options)
        self.scheme = scheme
        handler = self.context.handler(scheme)
        self.rounds: int | None = getattr(handler, "default_rounds", None)

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        available = [s for s in SCHEMES if _available(s)]
        scheme = settings.choice("auth.scheme", available, DEFAULT_SCHEME)
        rounds = settings.int("auth.rounds", None, minimum=1)
        try:
            return cls(scheme, rounds)
        except (ValueError, TypeError) as exc:
            raise ConfigError("auth.rounds", f"not valid for {scheme}: {exc}") from None

    def hash(self, password: str) -> str:
        """A new hash; ``$5$``/``$6$`` made by libcrypt outside the GIL where it can."""
        if self.rounds is not None:
            made = native_hash(self.scheme, password, self.rounds)
            if made is not None:
                return made
        return self.context.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        return verify_password(password, hashed)


def verify_password(password: str, hashed: str) -> bool:
    """False for a wrong password or a hash in a scheme we cannot check. ``$5$``/``$6$``
    hashes are checked by libcrypt outside the GIL where it can (native_crypt.py)."""
    native = native_verify(password, hashed)
    if native is not None:
        return native
    try:
        return context.verify(password, hashed)
    except (ValueError, TypeError):
        return False


def is_known_hash(hashed: str) -> bool:
    return context.identify(hashed) is not None


def dummy_verify() -> None:
    """As costly as checking a default hash (unknown user names must not answer faster)."""
    if DEFAULT_SCHEME != "sha512_crypt" or not native_dummy_verify(_default_rounds()):
        context.dummy_verify()


@functools.cache
def _default_rounds() -> int:
    return int(context.handler(DEFAULT_SCHEME).default_rounds)  # type: ignore[attr-defined]


def main() -> int:
    """The old way to run ``ppc-gen-password``, kept for scripts that use it."""
    from pypicloud.scripts.gen_password import main as gen_password

    return gen_password()


if __name__ == "__main__":
    raise SystemExit(main())
