"""Downloads at stable URLs: streamed (with Range, HEAD, ETag) or redirected to signed URLs."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from email.utils import format_datetime
from typing import BinaryIO, cast

from pyramid.httpexceptions import HTTPFound, HTTPNotFound, HTTPNotModified
from pyramid.request import Request
from pyramid.response import Response
from webob.static import FileIter

from pypicloud.models import Package
from pypicloud.storage import PackageNotStored
from pypicloud.storage.files import FileStorage
from pypicloud.storage.layout import content_type_for

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
READ_CAP = 64 * 1024
#: Files up to this size are read into one body rather than handed to the file wrapper.
SMALL_FILE_BYTES = READ_CAP
METADATA_SUFFIX = ".metadata"


def download(request: Request, package: Package) -> Response:
    """The service decides how the bytes travel; this turns its answer into a response."""
    answer = request.services.packages.download(package)
    if answer.redirect_url:
        return HTTPFound(location=answer.redirect_url)
    if answer.accel_uri:
        return accel_redirect(request, package, answer.accel_uri)
    return stream(request, package)


def accel_redirect(request: Request, package: Package, uri: str) -> Response:
    """An empty answer telling nginx which file to send: nginx does the bytes, Range and
    its own ETag; type, disposition and caching headers are ours, as when streaming. A
    client revalidating with the sha256 ETag (from a streamed download) gets our 304."""
    if package.sha256 and package.sha256 in request.if_none_match:
        # Answered here: nginx would compare the client's ETag with its own (mtime-size).
        response: Response = HTTPNotModified()
    else:
        response = Response(content_type=content_type_for(package.filename))
        response.headers["X-Accel-Redirect"] = uri
        response.content_disposition = f'attachment; filename="{package.filename}"'
    if package.sha256:
        response.etag = package.sha256
    response.last_modified = package.last_modified
    response.cache_control.private = True
    response.cache_control.max_age = request.services.options.cache_max_age
    return response


def stream(request: Request, package: Package) -> Response:
    stack = ExitStack()
    try:
        handle = stack.enter_context(request.services.packages.open(package))
    except PackageNotStored:
        stack.close()
        # The index and storage disagree: the operator should know (a rebuild reconciles).
        log.warning("%s is in the index but missing from storage", package.filename)
        raise HTTPNotFound("The file is missing from storage") from None
    headers = _headers_of(package, request.services.options.cache_max_age)
    if _is_real_file(handle):
        app_iter = _real_file_body(
            stack, handle, _size_of(handle), headers, lambda h: _file_iter(request, h)
        )
    else:
        app_iter = _chunks(handle, stack)
        if package.size is not None:
            headers.append(("Content-Length", str(package.size)))
    # Headers given as a list: webob's per-header setters cost more than the download.
    return Response(app_iter=app_iter, headerlist=headers, conditional_response=True)


def whole_file(
    environ: dict, services: object, package: Package
) -> tuple[list[tuple[str, str]], Iterable[bytes]] | None:
    """A whole file from file storage as WSGI headers and body, for the front door (no
    Pyramid request): what ``stream`` answers to a GET without Range or validators. None
    when the view must answer (the file is missing, or too big with no file wrapper)."""
    packages = services.packages  # type: ignore[attr-defined]
    max_age = services.options.cache_max_age  # type: ignore[attr-defined]
    storage = packages.storage
    recorded = package.size
    if isinstance(storage, FileStorage) and (recorded is None or recorded <= SMALL_FILE_BYTES):
        try:
            small = storage.read_small(package, SMALL_FILE_BYTES)
        except PackageNotStored:
            return None
        if small is not None:
            headers = _headers_of(package, max_age)
            headers.append(("Content-Length", str(len(small))))
            return headers, [small]
    stack = ExitStack()
    try:
        handle = stack.enter_context(packages.open(package))
    except PackageNotStored:
        stack.close()
        return None
    size = _size_of(handle)
    wrapper = environ.get("wsgi.file_wrapper")
    if size > SMALL_FILE_BYTES and wrapper is None:
        stack.close()
        return None  # the view streams it in chunks
    headers = _headers_of(package, max_age)
    send = cast(Callable[[CappedReads, int], Iterable[bytes]], wrapper)  # None only if small
    body = _real_file_body(stack, handle, size, headers, lambda h: send(CappedReads(h), CHUNK))
    return headers, body


def _real_file_body(
    stack: ExitStack,
    handle: BinaryIO,
    size: int,
    headers: list[tuple[str, str]],
    large: Callable[[BinaryIO], Iterable[bytes]],
) -> Iterable[bytes]:
    """The body of a real file, its Content-Length added to ``headers``. Up to
    ``SMALL_FILE_BYTES`` in one buffer: the server sends headers and body in one write, so
    a process that dies mid-answer never leaves a client (or nginx) headers and no body.
    A larger one goes to ``large``, which takes over closing the handle."""
    if size <= SMALL_FILE_BYTES:
        with stack:
            body = handle.read()
        headers.append(("Content-Length", str(len(body))))
        return [body]
    headers.append(("Content-Length", str(size)))
    stack.pop_all()  # the stack holds nothing else to close
    return large(handle)


def _headers_of(package: Package, max_age: int) -> list[tuple[str, str]]:
    return list(_headers(package.filename, package.sha256, package.last_modified, max_age))


@functools.lru_cache(maxsize=4096)
def _headers(
    filename: str, sha256: str | None, last_modified: dt.datetime, max_age: int
) -> tuple[tuple[str, str], ...]:
    """A file's response headers but its length (the same for every download of it)."""
    headers = [("Content-Type", content_type_for(filename)), ("Accept-Ranges", "bytes")]
    if sha256:
        headers.append(("ETag", f'"{sha256}"'))
    headers += [
        ("Last-Modified", format_datetime(last_modified.astimezone(dt.UTC), usegmt=True)),
        ("Content-Disposition", f'attachment; filename="{filename}"'),
        ("Cache-Control", f"max-age={max_age}, private"),
    ]
    return tuple(headers)


def metadata_response(request: Request, package: Package) -> Response:
    content = request.services.packages.core_metadata(package)
    if content is None or not package.is_wheel:
        raise HTTPNotFound("No core metadata for this file")
    response = Response(
        body=content, content_type="application/octet-stream", conditional_response=True
    )
    response.etag = hashlib.sha256(content).hexdigest()
    response.last_modified = package.last_modified
    response.cache_control.private = True
    return response


def _file_iter(request: Request, handle: BinaryIO) -> Iterable[bytes]:
    """The server's ``wsgi.file_wrapper`` for a whole file (waitress then sends it from the
    file, not through Python chunks); FileIter, which can seek, for a Range request."""
    wrapper = request.environ.get("wsgi.file_wrapper")
    if wrapper is not None and "HTTP_RANGE" not in request.environ:
        return wrapper(CappedReads(handle), CHUNK)  # type: ignore[no-any-return]
    return FileIter(handle)


class CappedReads:
    """A real file for ``wsgi.file_wrapper``: reads of at most ``READ_CAP`` bytes, by
    position.

    waitress's wrapper reads as much as the socket's send buffer takes (about 4 MB on
    loopback). Buffers that size are served from glibc's per-thread arenas once the first
    one freed raises its mmap threshold, and the arenas keep them: a few large downloads
    grew the process by 64 MB. Pieces this size are reused instead.

    For every piece it sends, waitress asks the position, reads, seeks back, then seeks
    past what the socket took: reads go by ``os.pread`` at a position kept here, so the
    three seeks never reach the kernel.
    """

    __slots__ = ("_file", "_fd", "_position")

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._fd = file.fileno()
        self._position = file.tell()

    def read(self, size: int = -1) -> bytes:
        size = READ_CAP if size < 0 or size > READ_CAP else size
        piece = os.pread(self._fd, size, self._position)
        self._position += len(piece)
        return piece

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            self._position = os.fstat(self._fd).st_size + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()


def _is_real_file(handle: BinaryIO) -> bool:
    try:
        handle.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _size_of(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_size


def _chunks(handle: BinaryIO, stack: ExitStack) -> Iterator[bytes]:
    with stack:
        while chunk := handle.read(CHUNK):
            yield chunk
