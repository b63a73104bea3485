"""Uploads stream to disk and are stopped at the size limit while they are read (issue 11.5: a 200 MB
upload used to be read whole into the web worker before the 30 MB check)."""

import io

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.handlers.wsgi import WSGIRequest

BOUNDARY = "----cardportal-test"


class CountingBody(io.RawIOBase):
    """A multipart body of `size` bytes of file data, generated as it is read, counting the bytes
    the server actually pulled from the socket."""

    def __init__(self, size: int):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.parts = [(head, len(head)), (None, size), (tail, len(tail))]
        self.length = sum(n for _p, n in self.parts)
        self.served = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        position, offset = self.served, 0
        for part, size in self.parts:
            if position < offset + size:
                n = min(len(buffer), offset + size - position)
                start = position - offset
                buffer[:n] = (
                    part[start : start + n] if part is not None else b"PK" * (n // 2) + b"P" * (n % 2)
                )
                self.served += n
                return n
            offset += size
        return 0


def post_request(body: CountingBody, *, declared: int | None = None) -> WSGIRequest:
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(declared if declared is not None else body.length),
            "wsgi.input": body,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }
    )


def test_a_200_mb_upload_is_refused_before_its_body_is_read():
    body = CountingBody(200 * 1024 * 1024)
    request = post_request(body)
    assert dict(request.FILES) == {}
    assert request.upload_refused.code == "file_too_large"
    assert request.upload_refused.message == "文件太大（200.0 MB），上限为 30 MB"
    assert body.served < 256 * 1024  # the part headers only, not the 200 MB


def test_a_file_past_the_limit_is_stopped_while_it_streams(settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    body = CountingBody(1024 * 1024 + 300 * 1024)  # the request is within the form allowance
    request = post_request(body)
    assert dict(request.FILES) == {}
    assert request.upload_refused.code == "file_too_large"
    assert request.upload_refused.message == "文件太大，上限为 1 MB"
    assert body.served < 1024 * 1024 + 2 * 64 * 1024  # stopped within one chunk of the limit


def test_a_file_under_the_limit_goes_to_disk_not_memory():
    body = CountingBody(64 * 1024)
    request = post_request(body)
    upload = request.FILES["file"]
    assert isinstance(upload, TemporaryUploadedFile)
    assert upload.size == 64 * 1024
    assert getattr(request, "upload_refused", None) is None


def _upload(client, url: str, size: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("registry.xlsx", b"PK" + b"\x00" * (size - 2))
    return client.post(url, {"file": big, "union": "", "declared_members": "1"}, follow=True)


def test_the_migration_allowance_holds_on_the_registry_upload_only(client, city_staff, settings):
    """City staff may upload a whole registry (MIGRATION_MAX_BYTES) as a registration sheet; every
    other upload keeps UPLOAD_MAX_BYTES for them too."""
    from django.urls import reverse

    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.MIGRATION_MAX_BYTES = 4 * 1024 * 1024
    client.force_login(city_staff)
    size = 2 * 1024 * 1024
    on_sheet = _upload(client, reverse("members:sheet_upload"), size).content.decode()
    assert "文件太大" not in on_sheet  # within their migration allowance: the form reads it
    on_bank_file = _upload(client, reverse("issuance:activation_upload"), size).content.decode()
    assert "文件太大（2.0 MB），上限为 1 MB" in on_bank_file
    too_big = _upload(client, reverse("members:sheet_upload"), 5 * 1024 * 1024).content.decode()
    assert "文件太大（5.0 MB），上限为 4 MB" in too_big


def test_a_clerk_keeps_the_clerk_limit_on_the_registry_upload(client, clerk, settings):
    from django.urls import reverse

    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.MIGRATION_MAX_BYTES = 4 * 1024 * 1024
    client.force_login(clerk)
    page = _upload(client, reverse("members:sheet_upload"), 2 * 1024 * 1024).content.decode()
    assert "文件太大（2.0 MB），上限为 1 MB" in page
