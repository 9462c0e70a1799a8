"""Downloads at stable URLs: streamed (with Range, HEAD, ETag) or redirected to signed URLs."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import BinaryIO

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from webob.static import FileIter

from pypicloud.models import Package
from pypicloud.storage import PackageNotStored
from pypicloud.storage.layout import content_type_for

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
METADATA_SUFFIX = ".metadata"


def download(request: Request, package: Package) -> Response:
    """The service decides how the bytes travel; this turns its answer into a response."""
    answer = request.services.packages.download(package)
    if answer.redirect_url:
        return HTTPFound(location=answer.redirect_url)
    return stream(request, package)


def stream(request: Request, package: Package) -> Response:
    stack = ExitStack()
    try:
        handle = stack.enter_context(request.services.packages.open(package))
    except PackageNotStored:
        stack.close()
        # The index and storage disagree: the operator should know (a rebuild reconciles).
        log.warning("%s is in the index but missing from storage", package.filename)
        raise HTTPNotFound("The file is missing from storage") from None
    response = Response(
        content_type=content_type_for(package.filename),
        conditional_response=True,
        accept_ranges="bytes",
    )
    if _is_real_file(handle):
        response.app_iter = FileIter(handle)
        response.content_length = _size_of(handle)
        # FileIter closes the handle; the stack holds nothing else to close.
        stack.pop_all()
    else:
        response.app_iter = _chunks(handle, stack)
        if package.size is not None:
            response.content_length = package.size
    if package.sha256:
        response.etag = package.sha256
    response.last_modified = package.last_modified
    response.content_disposition = f'attachment; filename="{package.filename}"'
    response.cache_control.private = True
    response.cache_control.max_age = request.services.options.cache_max_age
    return response


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
