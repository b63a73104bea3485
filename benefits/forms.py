from decimal import Decimal

from django import forms
from django.utils import timezone

from members.forms import UnionChoiceField

from .models import Disbursement


class ClaimForm(forms.Form):
    programme = forms.IntegerField(widget=forms.HiddenInput)
    incident_on = forms.DateField(
        label="事由日期", initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    facts = forms.CharField(label="事由", max_length=300)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "批准"), ("reject", "驳回")])
    note = forms.CharField(label="审核意见", max_length=300, required=False)


class ReturnForm(forms.Form):
    reason = forms.CharField(label="退回理由", max_length=300)


class DisbursementForm(forms.Form):
    name = forms.CharField(label="批次名称", max_length=100)
    kind = forms.ChoiceField(label="类别", choices=Disbursement.Kind.choices)
    union = UnionChoiceField(label="发放工会", queryset=None)
    programme = forms.ModelChoiceField(label="对应项目（可选）", queryset=None, required=False)

    def __init__(self, *args, unions, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["union"].queryset = unions
        self.fields["programme"].queryset = programmes


class FilterForm(forms.Form):
    union = forms.ModelChoiceField(label="工会（含下级）", queryset=None)
    amount = forms.DecimalField(
        label="每人金额（元）", min_value=Decimal("0.01"), decimal_places=2, max_digits=12
    )
    hardship = forms.BooleanField(label="仅困难职工", required=False, initial=True)
    model_worker = forms.BooleanField(label="仅劳模", required=False)

    def __init__(self, *args, unions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["union"].queryset = unions


class UploadForm(forms.Form):
    # an empty file is the table kernel's file_empty, as on every path
    file = forms.FileField(label="文件（.xlsx/.xls/.csv）", allow_empty_file=True)
