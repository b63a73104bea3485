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
