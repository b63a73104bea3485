"""Fuzz the whole API from its OpenAPI schema, once per role, and look for 5xx and leaks.

schemathesis turns every operation of /api/schema/ (drf-spectacular) into a Hypothesis strategy;
each generated request is sent through the WSGI app (same process, same test transaction) with the
role's credentials, then checked: no 5xx, the body matches the documented response schema and
content type (for the status codes the schema documents), and no record of a union outside the
role's subtree appears in it. Path ids are drawn from the records seeded in BOTH trees (inside and
outside the role's scope), so detail URLs of other unions are tried on purpose.

Bounded: EXAMPLES examples per operation and generation mode, a fixed seed, no shrinking.
"""

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from benefits.models import BenefitProgramme
from issuance.models import BankFileImport
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from members.models import Union

from ..factories import ROLE, make_staff, make_tree
from ..issuance.factories import make_card, make_partner, xlsx_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Examples per operation and generation mode. 2 keeps the eight roles near 40 s on the shared
# 2-core machine; API_FUZZ_EXAMPLES=50 digs deeper locally (same seed, so still reproducible).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "2"))
SEED = 20261201
PASSWORD = "pw-Cardportal-1"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass
class World:
    """Two union trees (two provinces) with records whose labels name their union."""

    unions: list[Union]
    # label that must not leak -> the union it belongs to
    records: dict[str, Union] = field(default_factory=dict)
    # labels of programmes, visible along the whole line (ancestors and subtree)
    programmes: dict[str, Union] = field(default_factory=dict)
    ids: set[int] = field(default_factory=set)


def _away_tree() -> list[Union]:
    province = Union.objects.create(code="P14", name="外省总工会", level=Union.Level.PROVINCE)
    city = Union.objects.create(code="C1401", name="外省某市总工会", level=Union.Level.CITY, parent=province)
    county = Union.objects.create(code="K41", name="外省某县总工会", level=Union.Level.COUNTY, parent=city)
    unit = Union.objects.create(code="G411", name="外省某厂工会", level=Union.Level.GRASSROOTS, parent=county)
    return [province, city, county, unit]


def seed_world(django_capture_on_commit_callbacks) -> World:
    home = make_tree()
    unions = [
        home.province,
        home.city,
        home.county_a,
        home.county_b,
        home.unit_a1,
        home.unit_a2,
        home.unit_b1,
    ]
    world = World(unions=unions + _away_tree())
    partner = make_partner()
    seeder = make_staff(ROLE.ADMIN, home.province, username="seeder")
    seeder.is_superuser = True
    seeder.save(update_fields=["is_superuser"])
    for union in world.unions:
        if union.level == Union.Level.GRASSROOTS:
            card = make_card(union, name=f"会员{union.code}")
            world.records[f"会员{union.code}"] = union
            world.ids |= {card.pk, card.member_id}
    for union in world.unions:
        if union.level == Union.Level.COUNTY:
            with django_capture_on_commit_callbacks(execute=True):
                batch = batch_create(partner=partner, union=union, actor=seeder)
            world.records[batch.code] = union
            imp = import_create(
                kind=BankFileImport.Kind.RETURN,
                union=union,
                batch=batch,
                file_name=f"回盘{union.code}.xlsx",
                data=xlsx_bytes([["证件号码", "卡号", "状态"]]),
                actor=seeder,
            )
            world.records[f"回盘{union.code}.xlsx"] = union
            world.ids |= {batch.pk, imp.pk}
        programme = BenefitProgramme.objects.create(
            code=f"prog-{union.code.lower()}",
            name=f"项目{union.code}",
            kind=BenefitProgramme.Kind.values[0],
            union=union,
            valid_from=date(2026, 1, 1),
        )
        world.programmes[programme.name] = union
        world.ids |= {union.pk, programme.pk}
    return world


def forbidden_labels(world: World, scope: str | None) -> list[str]:
    """Labels a caller whose scope path is `scope` must never receive ("" sees all, None nothing)."""
    if scope == "":
        return []
    inside = {u.pk for u in world.unions if scope is not None and u.path.startswith(scope)}
    on_line = inside | {u.pk for u in world.unions if scope is not None and scope.startswith(u.path)}
    return [label for label, u in world.records.items() if u.pk not in inside] + [
        label for label, u in world.programmes.items() if u.pk not in on_line
    ]


# --- credentials: the one place that knows how a role signs in to the API -----------------------
def api_headers(user) -> dict[str, str]:
    """Headers that authenticate `user` to the API (None: anonymous), as each role really does:
    a partner (the bank operator) with its hashed, expiring API token; every other role with a
    signed-in, second-factor-verified session (the autouse sign-in fixture verifies it) and its
    CSRF token, as the portal's own pages call the API."""
    if user is None:
        return {}
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    from cardportal.api_tokens import api_token_issue
    from members.access import Cap, can

    if can(user, Cap.API_TOKEN):
        _token, text = api_token_issue(user=user, actor=user, via="test")
        return {"Authorization": f"Token {text}"}
    client = Client()
    client.force_login(user)
    csrf = _get_new_csrf_string()
    names = django_settings.SESSION_COOKIE_NAME, django_settings.CSRF_COOKIE_NAME
    session = client.cookies[names[0]].value
    return {
        "Cookie": f"{names[0]}={session}; {names[1]}={csrf}",
        "X-CSRFToken": csrf,
    }


ROLES = {
    "anonymous": None,
    "clerk": (ROLE.CLERK, "unit_a1"),
    "county_reviewer": (ROLE.COUNTY_REVIEWER, "county_a"),
    "county_admin": (ROLE.ADMIN, "county_a"),
    "city_staff": (ROLE.CITY_STAFF, "city"),
    "bank_operator": (ROLE.BANK_OPERATOR, "city"),
    "province_staff": (ROLE.PROVINCE_STAFF, "province"),
    "superuser": "superuser",
}


def make_role_user(name: str, world: World):
    spec = ROLES[name]
    if spec is None:
        return None, None
    if spec == "superuser":
        from django.contrib.auth import get_user_model

        return get_user_model().objects.create_superuser("root", password=PASSWORD), ""
    role, union_attr = spec
    union = {"unit_a1": "G011", "county_a": "K01", "city": "C1309", "province": "P13"}[union_attr]
    union = next(u for u in world.unions if u.code == union)
    return make_staff(role, union, username=f"fuzz-{name}"), union.path


# --- the fuzzer ---------------------------------------------------------------------------------
@contextmanager
def wsgi_app_in_test_transaction():
    """Django's WSGI app, minus the handler that closes the database connection at the start and
    end of every request (it would close the test's transaction), as Django's test client does.
    Use no test client inside: it connects the handler again when its request ends."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def load_schema(app, world: World):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    seeded_ids = sorted(world.ids)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        # Half the time a real id from either tree, so other unions' detail URLs are tried.
        if not path_parameters or "id" not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters), st.sampled_from(seeded_ids).map(lambda i: {**path_parameters, "id": i})
        )

    return schema


def fuzz(schema, headers: dict, forbidden: list[str]) -> tuple[list[str], int]:
    """Run every operation; return the problems found (not raised, so one run reports them all)."""
    problems: list[str] = []
    calls = 0
    # a session travels as cookies: schemathesis' WSGI client sends its own Cookie header
    cookies = (
        dict(part.split("=", 1) for part in headers["Cookie"].split("; ")) if "Cookie" in headers else None
    )
    headers = {name: value for name, value in headers.items() if name != "Cookie"}

    def probe(operation, mode, case) -> None:
        nonlocal calls
        calls += 1
        response = case.call(headers=headers, cookies=cookies)
        where = f"{operation.label} [{mode.value}] -> {response.status_code}"
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:  # a BaseExceptionGroup: `except Exception` would miss it
            for failure in group.exceptions:
                problems.append(f"{where}: {failure.title}\n    {case.as_curl_command()}")
        body = response.content.decode("utf-8", "replace")
        if body.startswith(("{", "[")):  # compare decoded text, not \uXXXX escapes
            body = json.dumps(json.loads(body), ensure_ascii=False)
        leaked = [label for label in forbidden if label in body]
        if leaked:
            problems.append(f"{where}: outside the caller's scope: {leaked}\n    {case.as_curl_command()}")

    def prober(operation, mode):
        def test(case):
            probe(operation, mode, case)

        return test

    for result in schema.get_all_operations():
        operation = result.ok()
        has_inputs = any(len(group) for group in (operation.path_parameters, operation.query, operation.body))
        # Negative data (wrong types, missing fields) only where there is an input to get wrong.
        modes = (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_inputs else (GenerationMode.POSITIVE,)
        )
        for mode in modes:
            run = seed(SEED)(
                settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(given(case=operation.as_strategy(generation_mode=mode))(prober(operation, mode)))
            )
            try:
                run()
            except Exception as exc:
                problems.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}")
    return problems, calls


@pytest.fixture
def world(settings, tmp_path, run_tasks_inline, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    return seed_world(django_capture_on_commit_callbacks)


def test_fuzzed_api_never_errors_and_never_leaks_outside_any_role(world):
    """One seeded world and one schema for every role (seeding and schema generation are the slow
    parts on this machine); the problems of all roles are reported together."""
    callers = {}
    for role in ROLES:
        user, scope = make_role_user(role, world)
        callers[role] = (api_headers(user), forbidden_labels(world, scope))

    problems, calls = [], {}
    with wsgi_app_in_test_transaction() as app:
        schema = load_schema(app, world)
        operations = len(list(schema.get_all_operations()))
        for role, (headers, forbidden) in callers.items():
            found, calls[role] = fuzz(schema, headers, forbidden)
            problems += [f"[{role}] {problem}" for problem in found]

    assert problems == [], "\n".join(problems)
    # Every operation was exercised for every role (Hypothesis may skip a duplicate example).
    assert all(n >= operations for n in calls.values()), calls


def test_the_fuzzer_reports_a_500_a_schema_mismatch_and_a_leak(world, monkeypatch):
    """The checks above can fail: a view that crashes, a body that breaks its schema and a record
    of another union each come back as a problem."""
    from members import api as members_api

    def crash(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(members_api.MemberDetailApi, "get_object", crash)
    monkeypatch.setattr(members_api.MemberSerializer, "to_representation", lambda self, obj: {"id": "x"})
    root, _scope = make_role_user("superuser", world)
    headers = api_headers(root)

    with wsgi_app_in_test_transaction() as app:
        schema = load_schema(app, world).include(
            path_regex=r"^/api/(members/(\{id\}/)?|benefits/programmes/)$"
        )
        problems, _calls = fuzz(schema, headers, forbidden=["项目G411"])

    heads = [p.splitlines()[0].partition(": ") for p in problems]
    kinds = {(where.split(" -> ")[0], what) for where, _, what in heads}
    assert {
        ("GET /api/members/{id}/ [positive]", "Server error"),
        ("GET /api/members/ [positive]", "Response violates schema"),
        ("GET /api/benefits/programmes/ [positive]", "outside the caller's scope: ['项目G411']"),
    } <= kinds, problems


# Values a random generator rarely draws but people and scripts send: Unicode digits (str.isdigit()
# accepts them, int() does not), NUL (PostgreSQL refuses it in text), numbers beyond bigint,
# an exponent, SQL-ish quotes, a 4-byte character, blank.
HOSTILE = ["²", "\x00", "-1", "99999999999999999999", "1e3", "' OR '1'='1", "%", "𠮷", " "]


def test_hostile_query_values_never_cause_a_server_error(world, request):
    """Deterministic complement of the fuzzer: every query parameter the schema documents, with
    each HOSTILE value, for a clerk and a superuser; and every {id} with out-of-range ids."""
    django = request.getfixturevalue("settings")  # several hundred calls: past the per-user and
    # per-address rates (the public merchant API is counted per address even for a signed-in user)
    rates = django.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    django.REST_FRAMEWORK = {
        **django.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "user": "100000/min", "anon": "100000/min"},
    }
    raw = APIClient().get("/api/schema/", {"format": "json"}).json()
    inside_id = min(world.ids)
    problems = []
    for role in ("clerk", "superuser"):
        user, _scope = make_role_user(role, world)
        client = APIClient(raise_request_exception=False)
        client.force_login(user)  # a verified staff session, as the portal's pages call the API
        for path, item in raw["paths"].items():
            operation = item.get("get")
            if operation is None:
                continue
            url = path.replace("{id}", str(inside_id))
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for value in HOSTILE:
                    response = client.get(url, {parameter["name"]: value})
                    if response.status_code >= 500:
                        problems.append(
                            f"[{role}] GET {url}?{parameter['name']}={value!r} -> {response.status_code}"
                        )
            if "{id}" in path:
                for value in ("0", "99999999999999999999"):
                    response = client.get(path.replace("{id}", value))
                    if response.status_code not in (403, 404):  # 403: the role may not use it at all
                        problems.append(f"[{role}] GET {path} id={value} -> {response.status_code}")

    assert problems == [], "\n".join(problems)
