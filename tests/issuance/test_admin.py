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
