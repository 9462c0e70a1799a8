"""Make an installed package look missing, the way a user without the extra sees it."""

from __future__ import annotations

import sys

import pytest


def hide_modules(monkeypatch: pytest.MonkeyPatch, top: str, *importers: str) -> None:
    """Fail every import of ``top`` and its submodules (None in sys.modules does that), and
    forget ``importers`` so that resolving them imports ``top`` again."""
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, top, None)
    for name in importers:
        monkeypatch.delitem(sys.modules, name, raising=False)
