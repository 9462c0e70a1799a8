"""The users, groups and grants every access backend is tested with.

Each backend's fixture loads this world into its real server (an ini section, SQL rows,
LDAP entries, a remote server's answers, a secret) and returns the ini settings that point
the app at it, so one permission matrix runs unchanged against every backend.
"""

from __future__ import annotations

PASSWORD = "s3cret-pw"

USERS = ("alice", "bob", "carol", "dave")
ADMINS = ("alice",)
GROUPS = {"devs": ("bob",)}
# normalized project -> {("user" | "group", name): "r" | "rw"}
GRANTS = {
    "carols-pkg": {("user", "carol"): "rw"},
    "secret": {("user", "bob"): "rw", ("user", "dave"): "r"},
}
DEFAULTS = {"pypi.default_read": "authenticated", "pypi.default_write": "devs"}


def config_grant_settings() -> dict[str, str]:
    """The grants as the config backend's ``package.<p>.<kind>.<name>`` keys (also what
    ``auth.ldap.fallback = config`` reads)."""
    return {
        f"package.{project}.{kind}.{name}": mode
        for project, grants in GRANTS.items()
        for (kind, name), mode in grants.items()
    }
