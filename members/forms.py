from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Member, Union


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": "姓名（前几个字）、完整身份证号或手机号", "autofocus": True}
        ),
    )
    union = forms.ModelChoiceField(label=_("工会"), queryset=Union.objects.none(), required=False)
    employment_type = forms.ChoiceField(
        label=_("用工类型"), required=False, choices=[("", "全部")] + list(Member.EmploymentType.choices)
    )
    hardship = forms.ChoiceField(
        label=_("困难职工"), required=False, choices=[("", "全部"), ("1", "是"), ("0", "否")]
    )
    status = forms.ChoiceField(
        label=_("会籍状态"), required=False, choices=[("", "全部")] + list(Member.Status.choices)
    )

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unions is not None:
            self.fields["union"].queryset = unions
            self.fields["union"].empty_label = "全部（本级及下级）"


class MemberTransferForm(forms.Form):
    to_union = forms.ModelChoiceField(label=_("转入工会"), queryset=Union.objects.none())
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unions is not None:
            self.fields["to_union"].queryset = unions.filter(
                level__in=[Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH]
            )
