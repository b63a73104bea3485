"""Operating the portal: deploy checks, key rotation, the demo."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cardportal import crypto
from members import demo
from members.models import Member, RegistrationSheet, SheetClaim, SheetRow, StaffRole, Union
from members.services import member_find_by_id_number

from ..factories import make_member, next_id_number

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_debug_off_and_keys_set(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cardportal.settings",  # production's, not the suite's
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + Fernet.generate_key().decode(),
        "PII_KEYS": Fernet.generate_key().decode(),
        "PII_HASH_KEY": "a-long-random-secret-for-the-keyed-hash",
        "ALLOWED_HOSTS": "cards.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser-test fixtures, never in production
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_keys_refuse_to_start_with_debug_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PII_KEYS", "PII_HASH_KEY")}
    env.update({"DEBUG": "0", "SECRET_KEY": "s" * 50, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    env["DJANGO_SETTINGS_MODULE"] = "cardportal.settings"  # production's, not the suite's
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "PII_KEYS and PII_HASH_KEY must be set" in result.stderr


def fernet_token(key: str, value: str) -> str:
    """A token as `crypto.encrypt` wrote them before the AES-GCM format."""
    return Fernet(key.encode()).encrypt(value.encode()).decode()


def stage_rows(union: Union, *rows: tuple[str, str] | None) -> list[SheetRow]:
    """A pending sheet with one accepted row per (id_encrypted, phone_encrypted), None for a
    rejected row (no personal data kept)."""
    sheet = RegistrationSheet.objects.create(
        union=union, file="sheets/x.csv", original_name="x.csv", sha256="0" * 64, status="submitted"
    )
    accepted = {
        "outcome": "accept",
        "gender": "M",
        "id_region": "110105",
        "id_last4": "002X",
        "phone_last4": "8000",
    }
    return [
        SheetRow.objects.create(
            sheet=sheet,
            row_number=n,
            **({"outcome": "reject", "reason": "id_invalid"} if tokens is None else accepted),
            **({} if tokens is None else {"id_encrypted": tokens[0], "phone_encrypted": tokens[1]}),
        )
        for n, tokens in enumerate(rows, start=2)
    ]


@pytest.mark.django_db
def test_pii_rotate_moves_every_member_and_staged_row_to_the_new_key(settings, tree):
    member = make_member(tree.unit_a1, id_number="11010519491231002X", phone="13800138000")
    old_key = settings.PII_KEYS[0]
    legacy_id = next_id_number()
    legacy = make_member(tree.unit_a1, id_number=legacy_id, phone="13912345678")
    Member.objects.filter(pk=legacy.pk).update(
        id_encrypted=fernet_token(old_key, legacy_id), phone_encrypted=fernet_token(old_key, "13912345678")
    )
    stage_rows(
        tree.unit_a2,
        (crypto.encrypt("11010519800101001X"), crypto.encrypt("13700137000")),
        (fernet_token(old_key, "11010519800101002X"), fernet_token(old_key, "13700137001")),
        None,
    )
    new_key = Fernet.generate_key().decode()
    settings.PII_KEYS = [new_key, old_key]
    call_command("pii_rotate", verbosity=0)
    settings.PII_KEYS = [new_key]  # the old key is gone
    member.refresh_from_db()
    legacy.refresh_from_db()
    assert (member.reveal_id_number(), member.reveal_phone()) == ("11010519491231002X", "13800138000")
    assert (legacy.reveal_id_number(), legacy.reveal_phone()) == (legacy_id, "13912345678")
    staged = list(SheetRow.objects.order_by("row_number").values_list("id_encrypted", "phone_encrypted"))
    assert [[crypto.decrypt(t) for t in pair] for pair in staged[:2]] == [
        ["11010519800101001X", "13700137000"],
        ["11010519800101002X", "13700137001"],
    ]
    assert staged[2] == ("", "")  # the rejected row keeps no personal data, and still none
    members = list(Member.objects.values_list("id_encrypted", "phone_encrypted"))
    assert all(t.startswith(crypto.current_prefix()) for pair in members + staged[:2] for t in pair)


@pytest.mark.django_db
def test_pii_rotate_leaves_tokens_already_under_the_first_key_alone(tree):
    make_member(tree.unit_a1)
    stage_rows(tree.unit_a2, (crypto.encrypt("11010519800101001X"), crypto.encrypt("13700137000")), None)
    before = list(Member.objects.values_list("id_encrypted", "phone_encrypted")) + list(
        SheetRow.objects.order_by("pk").values_list("id_encrypted", "phone_encrypted")
    )
    with CaptureQueriesContext(connection) as queries:
        call_command("pii_rotate", verbosity=0)
    after = list(Member.objects.values_list("id_encrypted", "phone_encrypted")) + list(
        SheetRow.objects.order_by("pk").values_list("id_encrypted", "phone_encrypted")
    )
    assert after == before
    assert [q["sql"] for q in queries if q["sql"].startswith("UPDATE")] == []


@pytest.mark.django_db
def test_pii_rotate_rehash_keeps_exact_search_working_under_a_new_hash_key(settings, tree):
    make_member(tree.unit_a1, id_number="11010519491231002X")
    settings.PII_HASH_KEY = "the-new-hash-key"
    assert member_find_by_id_number("11010519491231002X") is None
    call_command("pii_rotate", rehash=True, verbosity=0)
    assert member_find_by_id_number("11010519491231002X") is not None


@pytest.mark.django_db
def test_pii_rotate_rehash_recomputes_staged_rows_and_the_claims_of_submitted_sheets(settings, tree):
    staged, rejected = stage_rows(
        tree.unit_a2, (crypto.encrypt("11010519800101001X"), crypto.encrypt("13700137000")), None
    )
    SheetRow.objects.filter(pk=staged.pk).update(
        id_hash=crypto.keyed_hash("11010519800101001X"), phone_hash=crypto.keyed_hash("13700137000")
    )
    SheetClaim.objects.create(
        id_hash=crypto.keyed_hash("11010519800101001X"), sheet=staged.sheet, row_number=staged.row_number
    )
    settings.PII_HASH_KEY = "the-new-hash-key"
    call_command("pii_rotate", rehash=True, verbosity=0)
    new_hashes = (crypto.keyed_hash("11010519800101001X"), crypto.keyed_hash("13700137000"))
    assert SheetRow.objects.values_list("id_hash", "phone_hash").get(pk=staged.pk) == new_hashes
    assert SheetRow.objects.filter(pk=rejected.pk, id_hash="", phone_hash="").exists()
    assert list(SheetClaim.objects.values_list("id_hash", flat=True)) == [new_hashes[0]]


@pytest.mark.django_db
def test_demo_loads_the_22_cangzhou_counties_with_plan_member_counts_and_one_login_per_role():
    result = demo.load(members_total=200)
    counties = Union.objects.filter(parent__code="130900")
    assert counties.count() == 22
    assert counties.get(name="沧县总工会").declared_members == 180355
    assert counties.get(name="临港经济技术开发区总工会").declared_members == 2432
    assert sorted(StaffRole.objects.values_list("role", flat=True)) == sorted(StaffRole.Role.values)
    # every demo login has a real name, which the pages show instead of the user name
    assert {s.user.get_full_name() for s in StaffRole.objects.select_related("user")} == {
        "王芳",
        "李强",
        "张丽华",
        "刘建国",
        "陈静",
        "赵志刚",
    }
    assert Member.objects.count() == result["members"] > 190
    assert all(m.reveal_id_number()[:2] == "13" for m in Member.objects.all()[:20])


def test_openapi_schema_generates_and_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/members/" in schema and "/api/quotas/league/" in schema
