"""Second factor in a real browser, and the Content-Security-Policy holding on every app's main
page, the admin and the API docs (issue 10, findings 3 and 6)."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from issuance.models import Card
from members.models import Member

from ..conftest import login, totp_code
from ..factories import ROLE, make_member, make_staff
from ..issuance.factories import make_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in_with_password(page, live_server, username):
    page.goto(f"{live_server.url}/staff/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-Cardportal-1")
    page.click("button[type=submit]")


def test_enrol_verify_wrong_code_and_recovery_code(page, live_server, tree, screenshot):
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")

    # Password accepted: the reviewer must enrol before any page opens.
    _sign_in_with_password(page, live_server, "reviewer-a")
    page.wait_for_url(f"{live_server.url}/account/second-factor/enrol/**")
    assert page.locator(".qr svg").count() == 1
    secret = page.get_by_test_id("totp-secret").inner_text()
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)
    assert secret.replace(" ", "") == re.sub(r"[^A-Z2-7]", "", secret)  # base32, grouped
    screenshot("enrol")
    page.goto(f"{live_server.url}/members/")
    assert "/account/second-factor/enrol/" in page.url

    right = totp_code(device)
    page.fill("input[name=token]", "000000" if right != "000000" else "111111")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "验证码不正确，请核对手机时间后输入当前显示的 6 位数字。"
    device.refresh_from_db()
    device.throttle_reset()

    page.fill("input[name=token]", totp_code(device))
    page.click("button[type=submit]")
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", c) for c in codes)
    screenshot("recovery-codes")
    page.get_by_role("link", name="我已保存，继续").click()
    page.wait_for_url(f"{live_server.url}/members/")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(f"{live_server.url}/staff/login/")

    # Next sign-in: the phone is gone, a recovery code stands in for it (once).
    _sign_in_with_password(page, live_server, "reviewer-a")
    page.wait_for_url(f"{live_server.url}/account/second-factor/verify/**")
    page.fill("input[name=token]", codes[0])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "还剩 9 个" in page.locator(".messages").inner_text()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(f"{live_server.url}/staff/login/")

    _sign_in_with_password(page, live_server, "reviewer-a")
    page.wait_for_url(f"{live_server.url}/account/second-factor/verify/**")
    page.fill("input[name=token]", codes[0])
    page.click("button[type=submit]")
    assert "验证码不正确" in page.get_by_role("alert").inner_text()
    assert "/account/second-factor/verify/" in page.url


def _watch_csp(page) -> tuple[list, list]:
    violations: list[str] = []
    errors: list[str] = []
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));"
    )
    # A missing resource is reported by its URL (the console only says "404"); the browser's own
    # /favicon.ico probe is not a page's resource.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" and "status of" not in msg.text else None,
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return violations, errors


def test_no_csp_violation_on_main_pages_admin_and_api_docs(page, live_server, tree):
    make_staff(ROLE.ADMIN, tree.province, username="admin-p")
    member = make_member(tree.unit_a1)
    make_card(tree.unit_a1, status=Card.Status.ISSUED)
    violations, errors = _watch_csp(page)
    login(page, live_server, "admin-p")
    pages = [
        ("/", "工作台"),
        ("/members/", None),
        (f"/members/{member.pk}/", None),
        ("/members/sheets/", None),
        ("/members/unions/", None),
        ("/issuance/batches/", None),
        (f"/issuance/unions/{tree.unit_a1.pk}/", None),
        ("/merchants/directory/", None),
        ("/benefits/programmes/", None),
        ("/benefits/disbursements/", None),
        ("/quotas/league/", None),
        ("/admin/", None),
        ("/admin/members/union/", None),
        (f"/admin/members/union/{tree.unit_a1.pk}/change/", None),
    ]
    for path, _ in pages:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "Content-Security-Policy" in {
            k.title(): v for k, v in response.headers.items()
        } or response.headers.get("content-security-policy"), path
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp")
        violations.extend(f"{path}: {v}" for v in found)

    # The API docs: Swagger UI from drf-spectacular-sidecar renders the schema under the CSP.
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert page.locator(".opblock").count() > 5
    violations.extend(f"/api/docs/: {v}" for v in page.evaluate("window.__csp"))

    assert violations == []
    assert [e for e in errors if "Content Security Policy" in e or "Refused" in e] == []
    assert errors == []
    assert Member.objects.count() >= 1


def test_moved_inline_behaviour_still_works_under_the_csp(page, live_server, tree):
    """Auto-submitting filters and the check-all box, once inline handlers, now in app.js."""
    make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    for _ in range(3):
        make_card(tree.unit_a1, status=Card.Status.ISSUED)
    login(page, live_server, "clerk-a1")
    page.goto(f"{live_server.url}/members/sheets/")
    page.select_option("select[name=status]", index=1)
    page.wait_for_url(re.compile(r".*status=.+"))

    page.goto(f"{live_server.url}/issuance/unions/{tree.unit_a1.pk}/")
    boxes = page.locator('input[data-group="receive"]')
    assert boxes.count() == 3 and all(boxes.nth(i).is_checked() for i in range(3))
    page.locator('input[data-all="receive"]').uncheck()
    assert not any(boxes.nth(i).is_checked() for i in range(3))
