import pytest

from issuance.admin import PartnerForm
from issuance.models import IssuingPartner

from .factories import make_card

pytestmark = pytest.mark.django_db


def test_partner_layout_is_validated_in_admin():
    form = PartnerForm(
        data={
            "code": "bank2",
            "name": "另一家银行",
            "is_primary": False,
            "handoff_layout": '{"columns": [{"title": "姓名", "field": "name"}]}',
            "return_layout": "{}",
        }
    )
    assert not form.is_valid()
    assert "证件号码列" in str(form.errors["handoff_layout"])
    assert not IssuingPartner.objects.filter(code="bank2").exists()


def test_admin_pages_open_for_the_portal_admin(client, tree, admin_user, partner):
    make_card(tree.unit_a1)
    client.force_login(admin_user)
    for url in (
        "/admin/issuance/card/",
        "/admin/issuance/issuingpartner/",
        "/admin/issuance/bankbatch/",
        "/admin/issuance/wave/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get(f"/admin/issuance/issuingpartner/{partner.pk}/change/").status_code == 200


def test_waves_saved_in_the_admin_go_through_the_services_and_are_audited(client, tree, admin_user, partner):
    from cardportal.models import AuditEntry
    from issuance.models import Wave

    client.force_login(admin_user)
    form = {
        "name": "甲县第一批",
        "owner": tree.county_a.pk,
        "unions": [tree.unit_a1.pk],
        "partner": partner.pk,
        "target": "120",
        "starts_on": "2026-12-01",
        "deadline": "2026-12-31",
        "note": "",
    }
    added = client.post("/admin/issuance/wave/add/", form)
    assert added.status_code == 302
    wave = Wave.objects.get(name="甲县第一批")
    assert list(wave.unions.all()) == [tree.unit_a1]
    changed = client.post(
        f"/admin/issuance/wave/{wave.pk}/change/",
        {**form, "target": "150", "unions": [tree.unit_a1.pk, tree.unit_a2.pk]},
    )
    assert changed.status_code == 302
    wave.refresh_from_db()
    assert (wave.target, set(wave.unions.all())) == (150, {tree.unit_a1, tree.unit_a2})
    audit = list(
        AuditEntry.objects.filter(target_type="issuance.wave", target_id=str(wave.pk))
        .order_by("id")
        .values_list("verb", "data")
    )
    assert audit == [
        ("wave.created", {"target": 120}),
        ("wave.changed", {"fields": ["target", "unions"]}),
    ]
