from django import forms
from django.utils import timezone

from members.forms import UnionChoiceField
from members.models import Union

from .models import IssuingPartner, Wave


class BatchCreateForm(forms.Form):
    partner = forms.ModelChoiceField(
        label="发卡机构", queryset=IssuingPartner.objects.order_by("-is_primary", "name"), empty_label=None
    )
    union = UnionChoiceField(label="范围（含下级）", queryset=Union.objects.none(), empty_label=None)
    wave = forms.ModelChoiceField(
        label="发卡批次计划", queryset=Wave.objects.none(), required=False, empty_label="不限"
    )
    limit = forms.IntegerField(
        label="最多张数", required=False, min_value=1, help_text="留空为范围内全部待报送卡片"
    )
    hardship_only = forms.BooleanField(label="只报困难职工", required=False)
    note = forms.CharField(label="备注", required=False, max_length=300)

    def __init__(self, *args, unions=None, waves=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unions is not None:
            self.fields["union"].queryset = unions
        if waves is not None:
            self.fields["wave"].queryset = waves


class UploadForm(forms.Form):
    # an empty file is the table kernel's file_empty, as on every path
    file = forms.FileField(label="文件（.xlsx / .xls / .csv）", allow_empty_file=True)
    # the size limit is enforced while the upload streams in (cardportal/uploads.py)


class ReceiveForm(forms.Form):
    counted = forms.IntegerField(label="实际清点张数", min_value=0)
    note = forms.CharField(label="说明", required=False, max_length=300)


class DistributeForm(forms.Form):
    numbers = forms.CharField(
        label="扫描或输入卡号（每行一个）",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "可用扫码枪逐张扫描"}),
    )

    def numbers_list(self) -> list[str]:
        return [
            n
            for n in self.cleaned_data.get("numbers", "").replace(",", "\n").replace("，", "\n").splitlines()
            if n.strip()
        ]


class ActivationSessionForm(DistributeForm):
    held_on = forms.DateField(
        label="激活日期",
        initial=timezone.localdate,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    place = forms.CharField(label="地点", required=False, max_length=100)


class ReasonForm(forms.Form):
    note = forms.CharField(label="说明", required=False, max_length=300)


class ProgressForm(forms.Form):
    root = UnionChoiceField(label="工会", queryset=Union.objects.none(), required=False, empty_label=None)
    weeks = forms.IntegerField(label="周数", min_value=1, max_value=104, initial=12, required=False)
    until = forms.DateField(
        label="截至", required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )

    def __init__(self, *args, roots=None, **kwargs):
        super().__init__(*args, **kwargs)
        if roots is not None:
            self.fields["root"].queryset = roots
