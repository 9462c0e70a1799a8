"""Password hashing with passlib; the schemes the original pypicloud and its users wrote."""

from __future__ import annotations

from passlib.context import CryptContext
from passlib.registry import get_crypt_handler

SCHEMES = ["sha512_crypt", "sha256_crypt", "pbkdf2_sha512", "pbkdf2_sha256", "bcrypt", "argon2"]
DEFAULT_SCHEME = "sha512_crypt"


def _available(scheme: str) -> bool:
    handler = get_crypt_handler(scheme)
    has_backend = getattr(handler, "has_backend", None)
    return has_backend is None or bool(has_backend())


context = CryptContext(schemes=[s for s in SCHEMES if _available(s)], default=DEFAULT_SCHEME)


def hash_password(password: str) -> str:
    return context.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """False for a wrong password or a hash in a scheme we cannot check."""
    try:
        return context.verify(password, hashed)
    except (ValueError, TypeError):
        return False


def is_known_hash(hashed: str) -> bool:
    return context.identify(hashed) is not None


def dummy_verify() -> None:
    context.dummy_verify()
