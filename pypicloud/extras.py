"""Which of our extras provides a missing module, so a start-up error says what to install."""

from __future__ import annotations

#: Top-level module -> the extra that installs it.
EXTRA_OF_MODULE = {
    "google": "gcs",
    "azure": "azure",
    "psycopg": "postgres",
    "pymysql": "mysql",
    "redis": "redis",
}

#: Drivers SQLAlchemy picks for a URL without one, and the URL the extra's driver needs.
OTHER_DRIVERS = {
    "psycopg2": ("postgres", "postgresql+psycopg://"),
    "MySQLdb": ("mysql", "mysql+pymysql://"),
}


def install_hint(error: ImportError) -> str:
    """``"; install it with: pip install 'pypicloud[gcs]'"`` or "" when no extra helps."""
    module = (error.name or "").split(".")[0]
    if module in EXTRA_OF_MODULE:
        return f"; install it with: pip install 'pypicloud[{EXTRA_OF_MODULE[module]}]'"
    if module in OTHER_DRIVERS:
        extra, scheme = OTHER_DRIVERS[module]
        return f"; write the URL as {scheme}... and install: pip install 'pypicloud[{extra}]'"
    return ""
