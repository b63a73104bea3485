"""Uploads are streamed to disk and stopped at the size limit while they are read.

`BoundedUploadHandler` is the first of `FILE_UPLOAD_HANDLERS` (the second writes every file to a
temporary file on disk, never into memory). It refuses a request whose Content-Length already
says it is too big before reading a byte of the body, and otherwise counts each file's bytes as
they stream past, stopping the upload (`StopUpload(connection_reset=True)`: the rest of the body
is never read) once a file passes the limit. A view then finds no file in `request.FILES`;
`upload_refusal(request)` gives it the kernel's `file_too_large` refusal to show (the forms and the
API views call `raise_if_refused` first).

The limit is `UPLOAD_MAX_BYTES` on every path, except on a view marked `@upload_limit_by(rule)`:
there `rule(user)` gives it. The registration-sheet upload is the one such view today (city and
province staff who migrate a registry bring a whole city's export), so a migrating user's larger
allowance does not follow them to every other upload in the portal.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from cardportal.errors import ApplicationError
from cardportal.tables import TableRefused

# The multipart envelope and the other form fields around a file: a request may exceed the
# file limit by this much before its Content-Length alone refuses it.
FORM_OVERHEAD = 1024 * 1024


def registry_upload_limit(user=None) -> int:
    """The registration sheet's limit: staff who migrate a registry (city and province staff,
    administrators) bring a whole city's export; everyone else the clerk's limit."""
    if user is not None and getattr(user, "is_authenticated", False):
        from .scoping import can

        if can(user, "registry.migrate"):  # members.access.Cap.REGISTRY_MIGRATE, through the port
            return settings.MIGRATION_MAX_BYTES
    return settings.UPLOAD_MAX_BYTES


def upload_limit_by(rule: Callable[..., int]):
    """Marks a view whose uploads may exceed UPLOAD_MAX_BYTES: `rule(user)` is its limit."""

    def mark(view):
        view.upload_limit = rule
        return view

    return mark


def view_upload_limit(request) -> int:
    """The limit of the view this request resolved to (files are parsed inside the view)."""
    match = getattr(request, "resolver_match", None) if request is not None else None
    rule = getattr(getattr(match, "func", None), "upload_limit", None)
    return rule(getattr(request, "user", None)) if rule else settings.UPLOAD_MAX_BYTES


def too_large(size: int | None = None, limit: int | None = None) -> TableRefused:
    limit = settings.UPLOAD_MAX_BYTES if limit is None else limit
    if size is None:
        return TableRefused("file_too_large", f"文件太大，上限为 {limit / 1048576:.0f} MB")
    return TableRefused(
        "file_too_large", f"文件太大（{size / 1048576:.1f} MB），上限为 {limit / 1048576:.0f} MB"
    )


class BoundedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.request_length = content_length
        return None  # the multipart parser goes on; this handler only watches

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if getattr(self, "request_length", 0) > self._limit() + FORM_OVERHEAD:
            self._stop(self.request_length)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self._limit():
            self._stop(None)
        return raw_data

    def _limit(self) -> int:
        if not hasattr(self, "limit"):
            self.limit = view_upload_limit(self.request)
        return self.limit

    def file_complete(self, file_size):
        return None  # the next handler (TemporaryFileUploadHandler) builds the file

    def _stop(self, size: int | None):
        if self.request is not None:
            self.request.upload_refused = too_large(size, self._limit())
        raise StopUpload(connection_reset=True)


def upload_refusal(request) -> TableRefused | None:
    """The refusal of an upload the handler stopped, if any (reading request.FILES parses it)."""
    if request.method != "POST":
        return None
    request.FILES  # noqa: B018 - parsing the body is what runs the handler
    return getattr(request, "upload_refused", None)


def raise_if_refused(request) -> None:
    refused = upload_refusal(request)
    if refused is not None:
        raise ApplicationError(refused.message, code=refused.code)
