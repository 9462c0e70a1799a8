"""The fallback to an upstream index (the public PyPI by default): redirect, cache or none.

``options`` reads the settings, ``policy`` decides which names may ever reach the upstream,
``client`` is the only code that talks to it, ``parsing`` reads its pages, ``mirror`` copies
its files in, and ``service`` answers the views.
"""

from pypicloud.upstream.service import Upstream

__all__ = ["Upstream"]
