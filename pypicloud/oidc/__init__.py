"""Trusted publishing: CI exchanges its OIDC token for a short-lived upload token.

An admin registers a publisher (issuer, audience, required claims) for one project
(``publishers``, kept by ``store``); ``POST /_/oidc/mint-token`` verifies the CI's token
against the issuer's published keys (``keys``, ``verify``) and ``service`` mints an API
token that may upload to that project only, for a few minutes.
"""
