"""A registry migration through the browser, as a city would do it: the acceptance run of issue 16.

    .venv/bin/python scripts/try_migration.py --rows 2000000 --database cp_migration --redis-db 7 --port 8773
    .venv/bin/python scripts/try_migration.py --rows 300000 --xlsx --database cp_migration_x   # an .xlsx

Creates the PostgreSQL database (migrate + the demo) if it does not exist, writes a CSV of
`--rows` synthetic people (1 in 1,000 with a bad phone, one person twice), runs the portal as in
production (`scripts/serve`: gunicorn, a Celery worker per queue, beat) on 127.0.0.1, and in
Chromium: city staff (张丽华, demo account `city`) upload the sheet for a grassroots union, watch the
progress, read the per-row results, submit; the administrator (`admin`) approves with a reason
(the letter's count is the file's) and watches the registration. Prints the timings and saves
screenshots under `--out`. Needs the demo's second-factor codes (`manage.py demo_otp`)."""

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
PASSWORD = "Cardportal-2016"


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def environment(opts, out: Path) -> dict:
    from cardportal import devkeys

    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{opts.database}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{opts.redis_db}",
        "SECRET_KEY": "try-migration-" + "k" * 50,
        "PII_KEYS": devkeys.PII_KEY,  # the demo's keys: the demo data was written with them
        "PII_HASH_KEY": devkeys.PII_HASH_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORT": str(opts.port),
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": str(out / "static"),
        "MEDIA_ROOT": str(out / "media"),
        "TMPDIR": str(out),
        "VIRTUAL_ENV": str(Path(PY).parent.parent),
        "PATH": f"{Path(PY).parent}:{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "cardportal.settings",
    }
    env.pop("DEBUG", None)
    return env


def prepare(opts, env: dict, sheet: Path) -> None:
    debug = {**env, "DEBUG": "1"}
    found = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
         f"SELECT 1 FROM pg_database WHERE datname = '{opts.database}'"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if found != "1":
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", opts.database], check=True)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=debug, check=True)
        subprocess.run(
            [PY, "manage.py", "load_demo"], cwd=ROOT, env=debug, check=True, stdout=subprocess.DEVNULL
        )
        log("database migrated and the demo loaded")
    if sheet.exists():
        return
    from bench import sheetgen

    def people():
        yield sheetgen.HEADER
        first = None
        for i, row in enumerate(sheetgen.rows(opts.rows, bad_every=1000, offset=7_000_000)):
            first = first or row[1]
            if i == opts.rows - 10:  # the first person again, far from the first row
                row = [row[0], first, *row[2:]]
            yield row

    if opts.xlsx:  # laid out as Excel saves it (shared strings): large ones take the streaming reader
        sheetgen.write_shared_xlsx(sheet, people())
    else:
        with open(sheet, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\r\n").writerows(people())
    log("sheet written:", sheet.stat().st_size // 1_000_000, "MB")


def otp(env: dict, username: str) -> str:
    text = subprocess.run(
        [PY, "manage.py", "demo_otp", username],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        capture_output=True,
        text=True,
    ).stdout
    return re.search(r"\b(\d{6})\b", text).group(1)


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/health/ready/", timeout=5).status == 200:
                return
        except OSError:
            time.sleep(1)
    raise SystemExit("scripts/serve did not get ready")


def watch(page, url: str, shots: Path, name: str, finished) -> float:
    """Reload the sheet page every 10 s until `finished(page)`; returns the seconds it took."""
    began, taken = time.time(), 0
    while True:
        page.goto(url)
        if finished(page):
            return time.time() - began
        progress = page.locator("#sheet-progress")
        log(name, progress.inner_text().replace("\n", " ")[:120] if progress.count() else "")
        if taken < 3:
            page.screenshot(path=str(shots / f"{name}-{taken}.png"))
            taken += 1
        time.sleep(10)


def journey(opts, env: dict, sheet: Path, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    url = f"http://127.0.0.1:{opts.port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-background-networking"]
        )

        def sign_in(username: str):
            page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(600_000)
            page.goto(f"{url}/staff/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/second-factor/verify/**")
            page.fill("input[name=token]", otp(env, username))
            page.click("button[type=submit]")
            page.wait_for_load_state()
            return page

        page = sign_in("city")
        page.goto(f"{url}/members/sheets/upload/")
        page.set_input_files("input[name=file]", str(sheet))
        page.select_option("select[name=union]", index=3)
        page.fill("input[name=declared_members]", str(opts.rows))
        page.fill("input[name=declared_id_copies]", str(opts.rows))
        began = time.time()
        page.click("button:has-text('上传并校验')")
        page.wait_for_url(re.compile(r".*/members/sheets/\d+/$"), timeout=900_000)
        sheet_url = page.url
        log("upload answered in", round(time.time() - began, 1), "s")
        took = watch(page, sheet_url, shots, "check", lambda pg: pg.locator("#count-accepted").count() > 0)
        log("checked in", round(took, 1), "s:", page.inner_text("#count-accepted"), "accepted,",
            page.inner_text("#count-rejected"), "rejected")  # fmt: skip
        page.screenshot(path=str(shots / "results.png"))
        page.click("button:has-text('送上级审核')")
        page.wait_for_load_state()
        log("submitted")
        admin = sign_in("admin")
        admin.goto(sheet_url)
        admin.on("dialog", lambda dialog: dialog.accept())
        if admin.locator("textarea[name=override_reason]").count():
            admin.fill(
                "textarea[name=override_reason]",
                "存量会员迁移：确认书按原系统导出人数填写，不通过的行另行整改",
            )
        admin.click("#approve")
        admin.wait_for_load_state()
        took = watch(
            admin, sheet_url, shots, "register", lambda pg: pg.locator("#sheet-progress").count() == 0
        )
        log("registered in", round(took, 1), "s")
        admin.screenshot(path=str(shots / "registered.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--database", default="cp_migration")
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--port", type=int, default=8773)
    parser.add_argument("--out", type=Path, default=Path("/tmp/try-migration"))
    parser.add_argument("--xlsx", action="store_true", help="an .xlsx (Excel's layout) instead of a CSV")
    opts = parser.parse_args()
    out = opts.out / opts.database
    shots = out / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    env = environment(opts, out)
    sheet = out / ("全市存量会员.xlsx" if opts.xlsx else "全市存量会员.csv")
    prepare(opts, env, sheet)
    serve = subprocess.Popen(
        [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env,
        stdout=open(out / "serve.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{opts.port}")
        journey(opts, env, sheet, shots)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(60)


if __name__ == "__main__":
    main()
