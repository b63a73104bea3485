from django import forms
from django.utils import timezone

from members.access import visible_unions
from members.models import Union
from merchants.models import Merchant, MerchantCategory

from .models import SubsidyCampaign
from .services import campaign_problems

FIELDS = [
    "name",
    "description",
    "merchants",
    "categories",
    "audience",
    "area",
    "rule",
    "percent",
    "cap_per_txn",
    "cap_per_member_month",
    "fixed_amount",
    "min_spend",
    "budget",
    "starts_on",
    "ends_on",
]


class CampaignForm(forms.ModelForm):
    class Meta:
        model = SubsidyCampaign
        fields = FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "merchants": forms.SelectMultiple(attrs={"size": 8}),
            "categories": forms.CheckboxSelectMultiple,
            "rule": forms.RadioSelect,
            "audience": forms.RadioSelect,
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = visible_unions(user).filter(
            level__in=[Union.Level.CITY, Union.Level.COUNTY, Union.Level.INDUSTRY]
        )
        self.fields["merchants"].queryset = Merchant.objects.filter(status=Merchant.Status.ACTIVE).order_by(
            "name"
        )
        self.fields["categories"].queryset = MerchantCategory.objects.order_by("id")

    def clean(self):
        data = super().clean()
        for problem in campaign_problems(data):
            self.add_error(None, problem)
        return data


class BatchForm(forms.Form):
    month = forms.DateField(
        label="发放月份（含此前未发放的补贴）",
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )

    def clean_month(self):
        month = self.cleaned_data["month"].replace(day=1)
        if month > timezone.localdate().replace(day=1):
            raise forms.ValidationError("不能为将来的月份生成发放批次")
        return month
