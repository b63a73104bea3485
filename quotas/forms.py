from decimal import Decimal

from django import forms


class AssessmentInputForm(forms.Form):
    leadership = forms.DecimalField(
        label="领导重视", min_value=Decimal("0"), max_value=Decimal("3"), decimal_places=2
    )
    measures = forms.DecimalField(
        label="措施有力", min_value=Decimal("0"), max_value=Decimal("4"), decimal_places=2
    )
    missed_reports = forms.IntegerField(label="漏项次数", min_value=0, max_value=100)
    public_criticisms = forms.IntegerField(label="点名批评次数", min_value=0, max_value=100)
    note = forms.CharField(label="说明", max_length=300, required=False)


class PlanUploadForm(forms.Form):
    file = forms.FileField(label="发卡任务规划（CSV，格式同 cangzhou_plan_2016_2018.csv）")
