"""Issue 10, Proofs: one whole journey through the portal, then a scan for the journey's members'
full ID numbers and phone numbers everywhere they must not be.

The journey (Django test client with each role's session, the bank through its partner token):
a clerk uploads a registration sheet of 20 members; a county reviewer (not the uploader) approves
it and the members are registered; city staff create a bank batch; the bank downloads the hand-off
through the API and uploads its return; the reviewer finds a member by ID number and reveals the
full number once; the clerk files a benefit claim and the reviewer approves it; the clerk prepares
a disbursement of the approved claim, the reviewer (a higher union) approves it, the clerk exports
the payment file and the bank confirms it (a third person). Every Celery task runs on a real worker
over the real Redis broker.

Allowed to hold a full number: the reveal view's response and the hand-off download. Scanned:
every log record (root logger at DEBUG), every Celery task's arguments and result as published and
as stored, every key and value left in the Redis db, every other response body (HTML, JSON, and
the text inside .xlsx downloads), and every text column of the project's tables (sessions decoded).
"""

import base64
import contextlib
import io
import json
import logging
import random
import re
import time
import zipfile
from datetime import date, timedelta

import openpyxl
import pytest
import redis
from celery import signals
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from benefits.models import Claim, Disbursement
from benefits.seed import programmes_seed
from issuance.models import BankBatch, BankFileImport, Card, IssuingPartner
from members.idcard import make_id_number
from members.models import Member, RegistrationSheet
from members.sms.models import SmsMessage
from members.sms.services import sms_secret_params

from .factories import ROLE, make_staff, make_tree
from .issuance.factories import card_number

PASSWORD = "pw-Cardportal-1"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽娟", "海燕", "春梅", "国庆", "玉兰", "红霞"]


# --- what is looked for -----------------------------------------------------------------------
def journey_people(n: int = 20) -> list[dict]:
    """Members nobody else has: random ID numbers and phones, so nothing left over from another
    run or test can match (and nothing of this run can hide behind a fixed value)."""
    rng = random.Random()
    people, ids, phones = [], set(), set()
    while len(people) < n:
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
        id_number = make_id_number("130902", birth, rng.randrange(1, 999), male=rng.random() < 0.5)
        phone = "1" + rng.choice("3589") + "".join(rng.choices("0123456789", k=9))
        if id_number in ids or phone in phones:
            continue
        ids.add(id_number)
        phones.add(phone)
        name = SURNAMES[len(people)] + GIVEN[len(people) % len(GIVEN)]
        people.append({"id": id_number, "phone": phone, "name": name})
    return people


def patterns_for(people: list[dict]) -> list[tuple[str, re.Pattern]]:
    """(label, pattern): an ID number whole or as 6-8-4 groups (x or X); a phone as 11 digits or as
    3-4-4 groups with spaces or dashes, wherever it stands (so +86, 0086 and 86 in front, or digits
    after it, do not hide it)."""
    found = []
    for p in people:
        i, ph = p["id"], p["phone"]
        found.append(
            (f"ID {i}", re.compile(rf"{i[:6]}[\s-]?{i[6:14]}[\s-]?{i[14:17]}{re.escape(i[17])}", re.I))
        )
        found.append((f"phone {ph}", re.compile(rf"{ph[:3]}[\s-]?{ph[3:7]}[\s-]?{ph[7:]}")))
    return found


def leaks_in(text: str, patterns) -> list[str]:
    return [label for label, pattern in patterns if pattern.search(text)]


def readable(body: bytes) -> str:
    """The text of a response or stored value: an .xlsx (or any zip) as the text of its parts,
    otherwise the bytes as UTF-8 (or GBK, or latin-1 as a last resort)."""
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def kombu_text(raw: bytes) -> str:
    """A kombu message as it sits in a Redis list or in `unacked`: JSON whose body is base64."""
    text = readable(raw)
    try:
        message = json.loads(text)
    except ValueError:
        return text
    parts = [text]
    if isinstance(message, list) and message:  # unacked: [message, exchange, routing key]
        message = message[0]
    if isinstance(message, dict) and isinstance(message.get("body"), str):
        with contextlib.suppress(ValueError):
            parts.append(readable(base64.b64decode(message["body"])))
    return "\n".join(parts)


# --- where it is looked for -------------------------------------------------------------------
class Recorder(logging.Handler):
    """Every log record of the process (the worker runs in a thread of it): message, arguments,
    extra attributes and traceback, as a JSON formatter in production would write them."""

    PLAIN = set(vars(logging.makeLogRecord({})))

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record):
        extra = {k: v for k, v in vars(record).items() if k not in self.PLAIN}
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide its arguments  # noqa: BLE001
            message = str(record.msg)
        self.records.append(
            f"{record.name}: {message} | args={record.args!r} | extra={extra!r} | exc={record.exc_info!r}"
            + (f"\n{self.format(record)}" if record.exc_info else "")
        )


class Responses:
    """Every response of the journey, each with who fetched what; `allowed` marks the two places
    where full numbers belong (they are kept apart and checked to hold them)."""

    def __init__(self):
        self.scanned: list[tuple[str, str]] = []
        self.allowed: list[tuple[str, str]] = []

    def take(self, where: str, response, *, allowed: bool = False) -> None:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        response.body_text = readable(body)
        # the headers (file names, Location) and the redirects followed count as the response
        text = "\n".join(
            [
                *(f"{k}: {v}" for k, v in response.headers.items()),
                *map(str, getattr(response, "redirect_chain", [])),
            ]
            + [response.body_text]
        )
        (self.allowed if allowed else self.scanned).append((where, text))
        # 200 (202 for an accepted upload): a redirect to the sign-in page or a refusal is no page
        assert response.status_code in (200, 202), (where, response.status_code, response.body_text[:2000])


class Published:
    """Every Celery message as the producer sent it and every task's result as the worker made it."""

    def __init__(self):
        self.texts: list[str] = []

    def before_publish(self, sender=None, body=None, headers=None, **kwargs):
        self.texts.append(f"publish {sender}: {body!r} {headers!r}")

    def postrun(self, sender=None, args=None, kwargs=None, retval=None, **extra):
        self.texts.append(f"run {getattr(sender, 'name', sender)}: {args!r} {kwargs!r} -> {retval!r}")


def redis_texts() -> list[tuple[str, str]]:
    """Every key of this test's Redis db with its value (strings, lists, hashes, sets, sorted
    sets), kombu messages with their base64 bodies decoded."""
    db = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    out = []
    for key in db.keys("*"):
        kind = db.type(key).decode()
        if kind == "string":
            values = [db.get(key)]
        elif kind == "list":
            values = db.lrange(key, 0, -1)
        elif kind == "hash":
            values = [k + b" " + v for k, v in db.hgetall(key).items()]
        elif kind == "set":
            values = list(db.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in db.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        name = key.decode("utf-8", "replace")
        out.append((f"key {name}", name))
        out.extend((f"{kind} {name}", kombu_text(v)) for v in values if v is not None)
    return out


def database_texts() -> list[tuple[str, str]]:
    """Every text, varchar and json column of every table in the schema, row by row, sessions
    decoded (their data is signed base64). Member.id_encrypted and the like are ciphertext."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema()
                 AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')
               ORDER BY table_name, column_name"""
        )
        columns: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            columns.setdefault(table, []).append(column)
        out = []
        for table, names in columns.items():
            quoted = ", ".join(connection.ops.quote_name(c) + "::text" for c in names)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for column, value in zip(names, row, strict=True):
                    if value:
                        out.append((f"{table}.{column}", value))
    for where, data in [(w, v) for w, v in out if w == "django_session.session_data"]:
        out.append((f"{where} (decoded)", repr(SessionStore().decode(data))))
    return out


# --- the journey ------------------------------------------------------------------------------
def registration_sheet(people: list[dict]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["会员卡信息登记表"])
    sheet.append(["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位", "困难职工"])
    for n, p in enumerate(people, start=1):
        ph = p["phone"]
        # the forms a clerk types: plain, +86, grouped with dashes
        phone = [ph, f"+86 {ph}", f"{ph[:3]}-{ph[3:7]}-{ph[7:]}"][n % 3]
        sheet.append([n, p["id"], p["name"], "", phone, "财务处", "是" if n % 4 == 0 else ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def wait_for(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)  # a verified second-factor session where the role needs one
    return client


@contextlib.contextmanager
def every_log_record_to(handler: logging.Handler):
    """Route every record of every logger, at DEBUG, to `handler` while the block runs: the root
    logger at DEBUG, loggers with a level of their own or disabled (by an earlier test or a
    library's set-up: the whole suite showed it) opened up, loggers that do not propagate given
    the handler too; all put back afterwards."""
    root = logging.getLogger()
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    saved_root, saved_disable = root.level, logging.root.manager.disable
    silent = [lg for lg in loggers if not lg.propagate]
    logging.disable(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    root.addHandler(handler)
    for lg in silent:
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg in silent:
            lg.removeHandler(handler)
        root.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        root.setLevel(saved_root)
        logging.disable(saved_disable)


@pytest.fixture
def scanners(celery_worker_thread):
    """The log handler and the Celery hooks, installed before the journey, removed after."""
    recorder, published = Recorder(), Published()
    signals.before_task_publish.connect(published.before_publish, weak=False)
    signals.task_postrun.connect(published.postrun, weak=False)
    with every_log_record_to(recorder):
        yield recorder, published
    signals.before_task_publish.disconnect(published.before_publish)
    signals.task_postrun.disconnect(published.postrun)


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_whole_journey_leaves_no_full_id_number_or_phone_outside_reveal_and_handoff(
    scanners, settings, tmp_path
):
    recorder, published = scanners
    settings.MEDIA_ROOT = tmp_path / "media"
    people = journey_people()
    patterns = patterns_for(people)
    responses = Responses()

    tree = make_tree()
    clerk_user = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    reviewer_user = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    city_user = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    bank_user = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    partner = IssuingPartner.objects.create(code="icbc", name="工商银行测试分行")
    programme = programmes_seed(union=tree.province)["accidental-death"]
    clerk, reviewer, city = signed_in(clerk_user), signed_in(reviewer_user), signed_in(city_user)

    # 1. The clerk uploads the sheet; the worker validates it; the clerk submits it.
    responses.take("clerk: upload form", clerk.get("/members/sheets/upload/"))
    upload = SimpleUploadedFile("一中登记表.xlsx", registration_sheet(people))
    responses.take(
        "clerk: upload",
        clerk.post(
            "/members/sheets/upload/",
            {"file": upload, "union": tree.unit_a1.pk, "declared_members": 20, "declared_id_copies": 20},
            follow=True,
        ),
    )
    sheet = RegistrationSheet.objects.get()
    wait_for(lambda: RegistrationSheet.objects.get().job_finished, "the sheet's validation")
    responses.take("clerk: progress", clerk.get(f"/members/sheets/{sheet.pk}/progress/"))
    responses.take("clerk: sheet", clerk.get(f"/members/sheets/{sheet.pk}/"))
    sheet.refresh_from_db()
    assert (sheet.rows_accepted, sheet.rows_rejected) == (20, 0)
    responses.take("clerk: error report", clerk.get(f"/members/sheets/{sheet.pk}/errors.xlsx"))
    responses.take("clerk: submit", clerk.post(f"/members/sheets/{sheet.pk}/submit/", follow=True))

    # 2. The county reviewer (not the uploader) approves; the worker registers the members.
    responses.take("reviewer: review list", reviewer.get("/members/sheets/review/"))
    responses.take("reviewer: sheet", reviewer.get(f"/members/sheets/{sheet.pk}/"))
    responses.take("reviewer: approve", reviewer.post(f"/members/sheets/{sheet.pk}/approve/", follow=True))
    wait_for(
        lambda: RegistrationSheet.objects.get().status == RegistrationSheet.Status.REGISTERED,
        "the registration",
    )
    assert Member.objects.count() == 20 and Card.objects.filter(status=Card.Status.APPLIED).count() == 20
    responses.take("reviewer: sheet registered", reviewer.get(f"/members/sheets/{sheet.pk}/"))
    responses.take("reviewer: members", reviewer.get("/members/"))

    # 3. City staff create a bank batch; the worker writes the hand-off file.
    responses.take("city: batches", city.get("/issuance/batches/"))
    responses.take(
        "city: create batch",
        city.post("/issuance/batches/", {"partner": partner.pk, "union": tree.county_a.pk}, follow=True),
    )
    batch = BankBatch.objects.get()
    assert batch.card_count == 20
    wait_for(lambda: BankBatch.objects.get().handoff_sha256, "the hand-off file")
    responses.take("city: batch progress", city.get(f"/issuance/batches/{batch.pk}/progress/"))
    responses.take("city: batch", city.get(f"/issuance/batches/{batch.pk}/"))
    responses.take("city: manifest", city.get(f"/issuance/batches/{batch.pk}/manifest/"))

    # 4. The bank, with its partner token: lists batches, downloads the hand-off, uploads the return.
    token = APIClient().post("/api/token/", {"username": "bank", "password": PASSWORD}, format="json")
    assert token.status_code == 200
    bank_api = APIClient()
    bank_api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    responses.take("bank api: batches", bank_api.get("/api/issuance/batches/"))
    responses.take("bank api: batch", bank_api.get(f"/api/issuance/batches/{batch.pk}/"))
    handoff = bank_api.get(f"/api/issuance/batches/{batch.pk}/handoff/")
    responses.take("bank api: hand-off", handoff, allowed=True)
    # the allowed place holds every full number (and proves the scan reads .xlsx text)
    assert sorted(p["id"] for p in people) == sorted(
        label.removeprefix("ID ") for label in leaks_in(handoff.body_text, patterns) if label.startswith("ID")
    )
    numbers = {p["id"]: card_number() for p in people}
    return_file = xlsx(
        [["证件号码", "姓名", "卡号", "状态", "失败原因"]]
        + [[i, "", n, "成功", ""] for i, n in numbers.items()]
    )
    posted = bank_api.post(
        f"/api/issuance/batches/{batch.pk}/return/",
        {"file": SimpleUploadedFile("回盘.xlsx", return_file)},
        format="multipart",
    )
    responses.take("bank api: return upload", posted)
    import_id = posted.json()["id"]
    wait_for(lambda: BankFileImport.objects.get(pk=import_id).job_finished, "the return import")
    responses.take("bank api: import", bank_api.get(f"/api/issuance/imports/{import_id}/"))
    assert Card.objects.filter(status=Card.Status.ISSUED).count() == 20
    bank = signed_in(bank_user)
    responses.take("bank: import page", bank.get(f"/issuance/imports/{import_id}/"))
    responses.take("bank: import report", bank.get(f"/issuance/imports/{import_id}/report.xlsx"))

    # The clerk signs for the cards, prints the distribution sheet and hands them out.
    cards_page = f"/issuance/unions/{tree.unit_a1.pk}"
    responses.take("clerk: cards", clerk.get(f"{cards_page}/"))
    all_cards = list(Card.objects.filter(union=tree.unit_a1).values_list("pk", flat=True))
    responses.take(
        "clerk: receive",
        clerk.post(f"{cards_page}/receive/", {"counted": 20, "card": all_cards}, follow=True),
    )
    responses.take("clerk: distribution sheet", clerk.get(f"{cards_page}/distribution-sheet/"))
    responses.take("clerk: distribution xlsx", clerk.get(f"{cards_page}/distribution-sheet/?format=xlsx"))
    responses.take(
        "clerk: distribute", clerk.post(f"{cards_page}/distribute/", {"card": all_cards}, follow=True)
    )
    assert Card.objects.filter(status=Card.Status.DISTRIBUTED).count() == 20

    # 5. The reviewer finds a member by ID number (POST) and reveals the full number once.
    target = people[0]
    member = Member.objects.get(name=target["name"])
    found_by_id = reviewer.post("/members/", {"q": target["id"]})
    responses.take("reviewer: search by ID", found_by_id)
    assert target["name"] in found_by_id.body_text and people[1]["name"] not in found_by_id.body_text
    responses.take("reviewer: member", reviewer.get(f"/members/{member.pk}/"))
    revealed = reviewer.post(f"/members/{member.pk}/reveal-id/")
    responses.take("reviewer: reveal", revealed, allowed=True)
    assert leaks_in(revealed.body_text, patterns) == [f"ID {target['id']}"]

    # 6. The clerk files a claim for the member; the reviewer approves it.
    responses.take("clerk: member", clerk.get(f"/members/{member.pk}/"))
    responses.take(
        "clerk: claim",
        clerk.post(
            f"/benefits/members/{member.pk}/claim/",
            {"programme": programme.pk, "incident_on": "2026-11-20", "facts": "交通事故"},
            follow=True,
        ),
    )
    claim = Claim.objects.get()
    responses.take("reviewer: claims", reviewer.get("/benefits/claims/"))
    responses.take(
        "reviewer: approve claim",
        reviewer.post(
            f"/benefits/claims/{claim.pk}/", {"decision": "approve", "note": "材料齐全"}, follow=True
        ),
    )
    assert Claim.objects.get().status == Claim.Status.APPROVED

    # 7. Disbursement: the clerk prepares, the county approves, the clerk exports, the bank confirms.
    responses.take("clerk: disbursements", clerk.get("/benefits/disbursements/"))
    responses.take(
        "clerk: create disbursement",
        clerk.post(
            "/benefits/disbursements/",
            {"name": "意外救助", "kind": "claims", "union": tree.unit_a1.pk, "programme": programme.pk},
            follow=True,
        ),
    )
    pay = Disbursement.objects.get()
    base = f"/benefits/disbursements/{pay.pk}"
    responses.take("clerk: add claims", clerk.post(f"{base}/claims/", follow=True))
    responses.take("clerk: submit", clerk.post(f"{base}/submit/", follow=True))
    responses.take("reviewer: disbursement", reviewer.get(f"{base}/"))
    responses.take("reviewer: approve", reviewer.post(f"{base}/approve/", follow=True))
    responses.take("clerk: export", clerk.post(f"{base}/export/", follow=True))
    wait_for(lambda: Disbursement.objects.get().job_finished, "the payment file")
    responses.take("clerk: progress", clerk.get(f"{base}/progress/"))
    responses.take("bank: disbursement", bank.get(f"{base}/"))
    responses.take("bank: payment file", bank.get(f"{base}/download/payment/"))
    responses.take("bank: payment manifest", bank.get(f"{base}/download/manifest/"))
    card = Card.objects.get(member=member)
    result = f"卡号,金额,结果,流水号\n{card.number},5000.00,成功,B0001\n".encode()
    responses.take(
        "bank: confirm",
        bank.post(f"{base}/confirm/", {"file": SimpleUploadedFile("回盘.csv", result)}, follow=True),
    )
    pay.refresh_from_db()
    assert (pay.state, pay.lines.get().status) == (Disbursement.State.CLOSED, "paid")

    # 8. The member signs in on the members' site (ID number + SMS code through the worker), sees
    # the card and reports it lost; staff read the SMS outbox.
    me = Client()
    responses.take("member: sign-in", me.post("/me/login/", {"id_number": target["id"]}, follow=True))
    sms = wait_for(
        lambda: SmsMessage.objects.filter(
            member=member, template="member_signin_code", status=SmsMessage.Status.SENT
        ).first(),
        "the SMS",
    )
    responses.take(
        "member: code", me.post("/me/login/code/", {"code": sms_secret_params(sms)["code"]}, follow=True)
    )
    responses.take("member: profile", me.get("/me/profile/"))
    responses.take("member: card", me.get(f"/me/cards/{card.pk}/"))
    responses.take("member: lost", me.post(f"/me/cards/{card.pk}/lost/", {"confirm": "yes"}, follow=True))
    assert Card.objects.get(pk=card.pk).status == Card.Status.LOST
    responses.take("city: SMS outbox", city.get("/sms/"))

    # The scan.
    found = []
    for where, text in responses.scanned:
        found += [(f"response: {where}", leak) for leak in leaks_in(text, patterns)]
    for text in recorder.records:
        found += [(f"log: {text[:200]}", leak) for leak in leaks_in(text, patterns)]
    for text in published.texts:
        found += [(f"celery: {text[:200]}", leak) for leak in leaks_in(text, patterns)]
    for where, text in redis_texts():
        found += [(f"redis: {where}", leak) for leak in leaks_in(text, patterns)]
    for where, text in database_texts():
        found += [(f"database: {where}", leak) for leak in leaks_in(text, patterns)]
    assert found == [], "\n".join(sorted({f"{where}: {leak}" for where, leak in found}))
    # the scan saw the journey: its pages, its log records, its tasks and their stored results
    assert len(responses.scanned) >= 40 and recorder.records and len(published.texts) >= 8
    assert any(w.startswith("string celery-task-meta-") for w, _ in redis_texts())


# --- the scanner itself -----------------------------------------------------------------------
def test_the_scanner_finds_numbers_in_every_form_it_meets():
    """Without a broker: the forms the journey scan must recognise (a check of the checker)."""
    person = {"id": "13090219850615003X", "phone": "13912345678", "name": "王芳"}
    patterns = patterns_for([person])
    for text, expected in [
        ("尾号 13090219850615003x 小写", ["ID 13090219850615003X"]),
        ("130902 19850615 003X", ["ID 13090219850615003X"]),
        ("+8613912345678", ["phone 13912345678"]),
        ("+86 139-1234-5678", ["phone 13912345678"]),
        ("0086 139 1234 5678", ["phone 13912345678"]),
        ("130902********003X 139****5678", []),
    ]:
        assert leaks_in(text, patterns) == expected, text
    # inside an .xlsx (shared strings) and inside a kombu message's base64 body
    assert leaks_in(readable(xlsx([["证件号码"], [person["id"]]])), patterns) == ["ID 13090219850615003X"]
    body = base64.b64encode(json.dumps([[person["phone"]], {}, {}]).encode()).decode()
    message = json.dumps({"body": body, "headers": {}, "properties": {"body_encoding": "base64"}})
    assert leaks_in(readable(message.encode()), patterns) == []
    assert leaks_in(kombu_text(message.encode()), patterns) == ["phone 13912345678"]
    # a log record's arguments count even where the message does not show them
    recorder = Recorder()
    with every_log_record_to(recorder):
        logging.getLogger("cardportal.scan-check").debug("received", extra={"who": person["id"]})
    assert [leaks_in(r, patterns) for r in recorder.records] == [["ID 13090219850615003X"]]
