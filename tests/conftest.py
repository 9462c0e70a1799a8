"""Fixtures for every tier; service fixtures live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.files",
    "tests.fixtures.databases",
    "tests.fixtures.caches",
    "tests.fixtures.s3",
    "tests.fixtures.gcs",
    "tests.fixtures.azure",
    "tests.fixtures.access",
    "tests.fixtures.remote_access",
    "tests.fixtures.aws_secrets",
    "tests.fixtures.ldap",
    "tests.fixtures.upstream",
    "tests.fixtures.nginx",
    "tests.fixtures.oidc",
]
