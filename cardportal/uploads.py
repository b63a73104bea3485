"""Uploads are streamed to disk and stopped at the size limit while they are read.

`BoundedUploadHandler` is the first of `FILE_UPLOAD_HANDLERS` (the second writes every file to a
temporary file on disk, never into memory). It refuses a request whose Content-Length already
says it is too big before reading a byte of the body, and otherwise counts each file's bytes as
they stream past, stopping the upload (`StopUpload(connection_reset=True)`: the rest of the body
is never read) once a file passes `UPLOAD_MAX_BYTES`. A view then finds no file in
`request.FILES`; `upload_refusal(request)` gives it the kernel's `file_too_large` refusal to show
(the forms and the API views call `raise_if_refused` first).
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from cardportal.errors import ApplicationError
from cardportal.tables import TableRefused

# The multipart envelope and the other form fields around a file: a request may exceed the
# file limit by this much before its Content-Length alone refuses it.
FORM_OVERHEAD = 1024 * 1024


def upload_limit(user=None) -> int:
    """The file limit for `user`: staff who migrate a registry (city and province staff,
    administrators) bring a whole city's export, the bank's operators its daily transaction
    feed; everyone else the clerk's limit."""
    if user is not None and getattr(user, "is_authenticated", False):
        from .scoping import can

        if can(user, "registry.migrate"):  # members.access.Cap.REGISTRY_MIGRATE, through the port
            return settings.MIGRATION_MAX_BYTES
        if can(user, "usage.import"):  # Cap.USAGE_IMPORT: the bank's daily transaction feed
            return settings.USAGE_FEED_MAX_BYTES
    return settings.UPLOAD_MAX_BYTES


def too_large(size: int | None = None, user=None) -> TableRefused:
    limit = upload_limit(user)
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
            self.limit = upload_limit(getattr(self.request, "user", None))
        return self.limit

    def file_complete(self, file_size):
        return None  # the next handler (TemporaryFileUploadHandler) builds the file

    def _stop(self, size: int | None):
        if self.request is not None:
            self.request.upload_refused = too_large(size, getattr(self.request, "user", None))
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
