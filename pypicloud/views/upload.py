"""The legacy upload API (what twine, uv and poetry speak), as PyPI's forklift answers it."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import HTTPBadRequest, HTTPRequestEntityTooLarge, status_map
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.packages import UploadRefused
from pypicloud.views.common import require_login, require_write

MULTIPART_SLACK = 64 * 1024  # form fields beside the file


def is_upload(request: Request) -> bool:
    return request.content_type == "multipart/form-data"


@view_config(route_name="simple_index", request_method="POST")
@view_config(route_name="pypi_index", request_method="POST")
@view_config(route_name="root", request_method="POST")
def legacy_upload(request: Request) -> Response:
    if not is_upload(request):
        raise refuse("Invalid request: expected multipart/form-data")
    limit = request.services.packages.options.max_upload_size
    if request.content_length and request.content_length > limit + MULTIPART_SLACK:
        raise HTTPRequestEntityTooLarge(f"File too large: the limit is {limit} bytes")
    require_login(request)
    try:
        form = request.POST
    except Exception as exc:  # WebOb raises various errors on a malformed body
        raise refuse(f"Invalid request: malformed multipart body ({exc})") from None
    action = form.get(":action")
    if action != "file_upload":
        raise refuse(f"Invalid request: unsupported :action {action!r}")
    return store_upload(request, form)


def store_upload(request: Request, form: dict, name: str | None = None) -> Response:
    """Shared by the legacy endpoint and the REST API's POST."""
    content = form.get("content")
    if content is None or not hasattr(content, "file") or not getattr(content, "filename", ""):
        raise refuse("Invalid value for content: upload a file as the 'content' field")
    fields = {key: form.get(key) for key in form if key != "content"}
    if name is not None:
        fields.setdefault("name", name)
    project = fields.get("name")
    if isinstance(project, str) and project.strip():
        require_write(request, canonicalize_name(project.strip()))
    try:
        result = request.services.packages.upload(
            fields, content.file, content.filename, request.userid
        )
    except UploadRefused as exc:
        raise refuse(exc.message, exc.status) from None
    return Response("OK" if result.created else "OK (file already exists, identical)")


def refuse(message: str, status: int = 400) -> Exception:
    """An error with the reason in the status line too, where twine shows it."""
    one_line = " ".join(message.split()).encode("ascii", "replace").decode("ascii")
    error = status_map.get(status, HTTPBadRequest)(one_line)
    error.status = f"{status} {one_line}"
    return error
