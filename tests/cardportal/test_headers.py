"""Finding 6 (issue 10): a Content-Security-Policy and the other security headers on every page."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_carry_a_csp_without_inline_script(client, clerk):
    client.force_login(clerk)
    response = client.get("/members/")
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["base-uri"] == "'self'"


def test_other_security_headers(client):
    response = client.get("/staff/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    assert "Content-Security-Policy" in response


def test_no_template_carries_inline_script_or_handlers():
    """The CSP forbids them; the browser test would only catch the pages it opens."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
            r"\son[a-z]+=|hx-on|javascript:", text
        ):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
