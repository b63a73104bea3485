"""The bank's operator uploads a day of card transactions, watches the import's progress and reads
the reconciliation report (issue 18, the feed)."""

import pytest

from merchants.usage import importer, tasks
from tests.usage.helpers import World, csv_bytes, row

from ..conftest import login, nav_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bank_operator_uploads_a_day_file_and_reads_the_report(
    live_server, page, screenshot, tree, tmp_path, settings, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    world = World(tree)
    queued = []
    # the worker is played by the test: it runs the task body once the page has shown the queue
    monkeypatch.setattr(tasks.txn_import_task, "delay", lambda pk, token: queued.append((pk, token)))
    rows = [row(f"R{i}", world.card_a if i % 2 else world.card_b, amount=f"{10 + i}.00") for i in range(40)]
    rows += [
        row("BAD1", "6222020000000012345"),
        row("BAD2", world.lost),
        row("BAD3", world.card_a, at="昨天"),
    ]
    day = tmp_path / "工行_20261115.csv"
    day.write_bytes(csv_bytes(rows))

    login(page, live_server, "bank")
    nav_to(page, "交易明细")
    page.select_option("#feed-upload select[name=feed]", str(world.feed.pk))
    page.set_input_files("#feed-upload input[type=file]", str(day))
    page.click("#feed-upload button[type=submit]")
    page.wait_for_selector(".progress, [hx-get]")
    screenshot("queued")

    ((pk, token),) = queued
    importer.run_import(import_id=pk, token=token)
    page.wait_for_selector("#feed-counts", timeout=30_000)
    counts = page.inner_text("#feed-counts")
    assert "43\n文件行数\n41\n新增交易" in counts
    assert "622202*********2345" in page.inner_text("#section-unknown_cards")
    assert "已挂失" in page.inner_text("#section-cards_not_live")
    assert "交易时间" in page.inner_text("#section-rejected_rows")
    screenshot("report")
