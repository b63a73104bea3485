"""File downloads: one way to answer with an attachment."""

import mimetypes

from django.http import HttpResponse
from django.utils.http import content_disposition_header


def attachment(content: bytes | str, filename: str, content_type: str | None = None) -> HttpResponse:
    """`content` as a download named `filename`. Django writes the Content-Disposition header
    (a Chinese name goes in `filename*`, RFC 6266); the type follows the file's extension unless given."""
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def private_file(content: bytes, filename: str, content_type: str, *, inline: bool) -> HttpResponse:
    """A file from private storage (an uploaded proof) answered by a scoped view: shown in place
    (`inline`, for images the portal re-encoded itself) or as a download; never cached by a
    shared cache, never sniffed as another type, and sandboxed if opened on its own."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
