"""The embedded mode (no broker): a sheet's import runs in a background thread of the web process,
so the upload answers at once and the sheet page shows the job's progress, then its result."""

import io
import threading

import pytest

import members.tasks
from members.models import RegistrationSheet

from ..factories import next_id_number

HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位\n"


@pytest.fixture
def background(settings, run_tasks_inline, monkeypatch, tmp_path):
    """Background runs on; each run waits for `go` before importing; the threads are collected."""
    settings.SHEET_JOBS_IN_BACKGROUND = True
    settings.MEDIA_ROOT = tmp_path / "media"
    go = threading.Event()
    threads: list[threading.Thread] = []
    real_import, real_delay = members.tasks.sheet_import, members.tasks.InBackground.delay

    def held_import(**kwargs):
        assert go.wait(30)
        return real_import(**kwargs)

    def delay(self, pk, token):
        thread = real_delay(self, pk, token)
        threads.append(thread)
        return thread

    monkeypatch.setattr(members.tasks, "sheet_import", held_import)
    monkeypatch.setattr(members.tasks.InBackground, "delay", delay)
    yield go, threads
    go.set()
    for thread in threads:
        thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_the_upload_answers_at_once_and_the_page_follows_the_job(client, tree, clerk, background):
    go, threads = background
    client.force_login(clerk)
    upload = io.BytesIO((HEADER + f"1,{next_id_number()},王芳,,13912345678,财务处\n").encode())
    upload.name = "a.csv"
    response = client.post(
        "/members/sheets/upload/",
        {"file": upload, "union": tree.unit_a1.pk, "declared_members": 1, "declared_id_copies": 1},
    )
    assert response.status_code == 302  # answered while the import still waits
    sheet = RegistrationSheet.objects.get()
    assert sheet.status == RegistrationSheet.Status.UPLOADED and not sheet.job_finished
    page = client.get(response["Location"]).content.decode()
    assert 'id="sheet-progress"' in page and f'hx-get="{sheet.progress_url}"' in page
    assert 'id="count-accepted"' not in page  # no result shown before there is one

    go.set()
    (thread,) = threads
    thread.join(30)
    assert not thread.is_alive()
    sheet.refresh_from_db()
    assert (sheet.status, sheet.job_status, sheet.rows_accepted) == (
        RegistrationSheet.Status.VALIDATED,
        "done",
        1,
    )
    fragment = client.get(sheet.progress_url).content.decode()
    assert "已完成" in fragment and "data-reload-after-request" in fragment  # the page reloads once
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert 'id="sheet-progress"' not in page and 'id="count-accepted">1<' in page


@pytest.mark.django_db(transaction=True)
def test_a_fault_in_the_background_run_fails_the_job_with_a_retry(
    client, tree, clerk, background, monkeypatch
):
    go, threads = background

    def broken(**kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(members.tasks, "sheet_import", broken)
    client.force_login(clerk)
    upload = io.BytesIO((HEADER + f"1,{next_id_number()},王芳,,13912345678,财务处\n").encode())
    upload.name = "a.csv"
    client.post(
        "/members/sheets/upload/",
        {"file": upload, "union": tree.unit_a1.pk, "declared_members": 1, "declared_id_copies": 1},
    )
    (thread,) = threads
    thread.join(30)
    sheet = RegistrationSheet.objects.get()
    assert (sheet.job_status, sheet.job_error_code) == ("failed", "internal")
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert 'id="stalled"' in page and "重新校验" in page


def test_the_test_suite_runs_sheet_jobs_in_the_request(settings):
    assert settings.SHEET_JOBS_IN_BACKGROUND is False
    assert not isinstance(members.tasks.import_task(), members.tasks.InBackground)
