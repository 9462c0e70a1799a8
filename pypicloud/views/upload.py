"""The legacy upload API (what twine, uv and poetry speak), as PyPI's forklift answers it.

The form becomes an ``UploadRequest``; the service validates and stores it, and its refusal
kinds map to statuses here, with the reason in the status line too, where twine shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import HTTPBadRequest, HTTPRequestEntityTooLarge, status_map
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud import multipart_form
from pypicloud.security import AUTHENTICATED, WRITE
from pypicloud.uploads import DIGEST_FIELDS, Refusal, UploadRefused, UploadRequest, form_text
from pypicloud.views.common import principals, username

MULTIPART_SLACK = 64 * 1024  # form fields beside the file
PARSED_BY_WEBOB = "webob._parsed_post_vars"  # where WebOb keeps a body it parsed
STATUS = {
    Refusal.INVALID: 400,
    Refusal.TOO_LARGE: 413,
    Refusal.CONFLICT: 409,
    Refusal.FORBIDDEN: 403,
}


def is_upload(request: Request) -> bool:
    return request.content_type == "multipart/form-data"


@view_config(route_name="simple_index", request_method="POST", permission=AUTHENTICATED)
@view_config(route_name="pypi_index", request_method="POST", permission=AUTHENTICATED)
@view_config(route_name="root", request_method="POST", permission=AUTHENTICATED)
def legacy_upload(request: Request) -> Response:
    form = read_form(request)
    action = form.get(":action")
    if action != "file_upload":
        raise refuse(f"Invalid request: unsupported :action {action!r}")
    return store_upload(request, form)


def read_form(request: Request) -> Mapping[str, Any]:
    """The multipart body, refused before it is read when its length is already too big.

    The form's temporary files are closed when the request finishes."""
    if not is_upload(request):
        raise refuse("Invalid request: expected multipart/form-data")
    limit = request.services.packages.options.max_upload_size
    if request.content_length and request.content_length > limit + MULTIPART_SLACK:
        raise HTTPRequestEntityTooLarge(f"File too large: the limit is {limit} bytes")
    if PARSED_BY_WEBOB in request.environ:  # a CSRF check read it already
        return request.POST
    try:
        return multipart_form.parse(
            request.body_file_raw,
            request.headers["Content-Type"],
            request.content_length if request.content_length is not None else -1,
            limit + MULTIPART_SLACK,
            request.add_finished_callback,
        )
    except multipart_form.MalformedForm as exc:
        raise refuse(f"Invalid request: malformed multipart body ({exc})") from None


def upload_request(request: Request, form: Mapping[str, Any], name: str | None) -> UploadRequest:
    """The typed upload from the form's fields (PyPI's legacy field names live here only)."""
    content = form.get("content")
    if content is None or not hasattr(content, "file") or not getattr(content, "filename", ""):
        raise refuse("Invalid value for content: upload a file as the 'content' field")
    digests = {kind: form_text(form.get(f"{kind}_digest")) for kind in DIGEST_FIELDS}
    return UploadRequest(
        filename=content.filename,
        content=content.file,
        name=form_text(form.get("name")) or name,
        version=form_text(form.get("version")),
        filetype=form_text(form.get("filetype")),
        summary=form_text(form.get("summary")),
        digests={kind: value for kind, value in digests.items() if value},
        uploader=username(request),
        attestations=_attestations_field(form),
    )


def _attestations_field(form: Mapping[str, Any]) -> str | None:
    """The ``attestations`` field (PEP 740, a JSON array) as text; a file part is refused."""
    value = form.get("attestations")
    if value is None:
        return None
    if not isinstance(value, str):
        raise refuse("Invalid attestations: expected a text field holding a JSON array")
    return value.strip() or None


def store_upload(request: Request, form: Mapping[str, Any], name: str | None = None) -> Response:
    """Shared by the legacy endpoint and the REST API's POST."""
    upload = upload_request(request, form, name)
    if upload.name:
        request.services.security.require(request, WRITE, canonicalize_name(upload.name))
    try:
        result = request.services.packages.upload(upload, principals(request))
    except UploadRefused as exc:
        raise refuse(exc.message, STATUS[exc.kind]) from None
    return Response("OK" if result.created else "OK (file already exists, identical)")


def refuse(message: str, status: int = 400) -> Exception:
    """An error with the reason in the status line too, where twine shows it."""
    one_line = " ".join(message.split()).encode("ascii", "replace").decode("ascii")
    error = status_map.get(status, HTTPBadRequest)(one_line)
    error.status = f"{status} {one_line}"
    return error
