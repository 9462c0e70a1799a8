"""Recognising the WSGI server's ``wsgi.file_wrapper`` among response bodies.

waitress sends a body that *is* its file wrapper straight from the file (and keeps nothing in
memory); any other iterable, even one that only counts the wrapper's chunks, it copies into
its output buffers (a temporary file past 1 MB, read back 4 MB at a time). Middleware that
wraps bodies to count them asks this first and counts a file by its Content-Length instead.
"""

from __future__ import annotations

from typing import Any


def is_file_wrapper(environ: dict[str, Any], body: object) -> bool:
    """Whether ``body`` is an instance of the server's ``wsgi.file_wrapper`` (a class in
    waitress; a server whose wrapper is a plain function is never recognised)."""
    wrapper = environ.get("wsgi.file_wrapper")
    return isinstance(wrapper, type) and isinstance(body, wrapper)
