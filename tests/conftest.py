"""Fixtures for every tier; service fixtures live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.files",
    "tests.fixtures.databases",
    "tests.fixtures.s3",
    "tests.fixtures.gcs",
    "tests.fixtures.azure",
    "tests.fixtures.ldap",
]
