"""Long union lists are grouped under their county, so a person finds a unit by its county."""

import pytest
from django.urls import reverse

from members.forms import MemberSearchForm
from members.models import Union

pytestmark = pytest.mark.django_db


def test_union_dropdown_groups_units_under_their_county(tree):
    form = MemberSearchForm(unions=Union.objects.all())
    html = str(form["union"])
    assert '<optgroup label="甲县总工会">' in html and '<optgroup label="乙县总工会">' in html
    group_a = html.split('<optgroup label="甲县总工会">')[1].split("</optgroup>")[0]
    assert "甲县第一中学工会" in group_a and "乙县人民医院工会" not in group_a
    # counties and the levels above stay selectable at the top, with the "all" choice first
    head = html.split("<optgroup")[0]
    assert head.index("全部（本级及下级）") < head.index("测试市总工会") < head.index("甲县总工会")


def test_grouped_choice_still_validates_against_the_scoped_queryset(tree):
    in_scope = Union.objects.filter(path__startswith=tree.county_a.path)
    assert MemberSearchForm({"union": tree.unit_a1.pk}, unions=in_scope).is_valid()
    assert not MemberSearchForm({"union": tree.unit_b1.pk}, unions=in_scope).is_valid()


def test_member_list_page_renders_the_groups(client, tree, city_staff):
    client.force_login(city_staff)
    page = client.get(reverse("members:member_list")).content.decode()
    assert '<optgroup label="乙县总工会">' in page
