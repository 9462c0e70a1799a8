"""Optional signature verification of attestations against a Sigstore trust root.

Off by default (``pypi.attestations_verify``). When on, each attestation's DSSE envelope
must verify against the trust root (``pypi.attestations_trusted_root``, a Sigstore
``trusted_root.json``; by default the public-good instance's root as sigstore-python keeps
it, read offline) and be signed by an identity of an accepted OIDC issuer
(``pypi.attestations_issuers``). A bad signature refuses the upload; a trust root that
cannot be loaded (no network to fetch it, a broken file) never does: the upload is stored
unverified and the reason logged.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from pypicloud.attestations import (
    GITHUB_ISSUER,
    GITLAB_ISSUER,
    GOOGLE_ISSUER,
    AttestationRefused,
    CheckedAttestations,
    certificate_claims,
)
from pypicloud.settings import ConfigError, Settings

if TYPE_CHECKING:
    from sigstore.verify import Verifier

log = logging.getLogger(__name__)

DEFAULT_ISSUERS = (GITHUB_ISSUER, GITLAB_ISSUER, GOOGLE_ISSUER)


class TrustRootUnavailable(Exception):
    """The trust root could not be loaded: verification is skipped, not failed."""


class AttestationVerifier:
    """Verifies attestations' signatures; one per process, shared by every thread."""

    def __init__(self, trusted_root: str | None = None, issuers: tuple[str, ...] = DEFAULT_ISSUERS):
        self.trusted_root = trusted_root
        self.issuers = issuers
        self._verifier: Verifier | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AttestationVerifier | None:
        enabled = settings.bool("pypi.attestations_verify", False)
        trusted_root = settings.str("pypi.attestations_trusted_root")
        issuers = tuple(settings.list("pypi.attestations_issuers", DEFAULT_ISSUERS))
        for issuer in issuers:
            if not issuer.startswith("https://"):
                raise ConfigError(
                    "pypi.attestations_issuers", f"expected https:// issuer URLs, got {issuer!r}"
                )
        if trusted_root is not None:
            try:
                with open(trusted_root, "rb"):
                    pass
            except OSError as exc:
                raise ConfigError("pypi.attestations_trusted_root", str(exc)) from None
        return cls(trusted_root, issuers) if enabled else None

    def verify(self, checked: CheckedAttestations, filename: str) -> None:
        """Refuse an attestation whose signature or signer does not verify."""
        try:
            verifier = self._load()
        except TrustRootUnavailable as exc:
            log.warning("attestations of %s stored unverified: %s", filename, exc)
            return
        from sigstore.errors import Error as SigstoreError
        from sigstore.verify import policy

        for index, attestation in enumerate(checked.attestations):
            issuer = certificate_claims(attestation).get("issuer", "")
            if issuer not in self.issuers:
                raise AttestationRefused(
                    f"Invalid attestation {index}: signed by an identity of {issuer or 'no'} "
                    f"issuer, not one of pypi.attestations_issuers"
                )
            try:
                bundle = attestation.to_bundle()
                verifier.verify_dsse(bundle, policy.OIDCIssuerV2(issuer))
            except (SigstoreError, ValueError) as exc:
                raise AttestationRefused(
                    f"Invalid attestation {index}: signature verification failed ({exc})"
                ) from None

    def _load(self) -> Verifier:
        with self._lock:
            if self._verifier is None:
                self._verifier = self._build()
            return self._verifier

    def _build(self) -> Verifier:
        from sigstore.verify import Verifier

        try:
            if self.trusted_root:
                from sigstore.models import TrustedRoot

                root: Any = TrustedRoot.from_file(self.trusted_root)
                return Verifier(trusted_root=root)
            return Verifier.production(offline=True)
        except Exception as exc:  # TUF, file and parse errors alike: skip, never break
            raise TrustRootUnavailable(f"cannot load the Sigstore trust root: {exc}") from exc
