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


class WeeklyReportForm(forms.Form):
    merchants_enrolled = forms.IntegerField(
        label="本周新签约商户（家）", min_value=0, max_value=100_000, initial=0
    )
    members_developed = forms.IntegerField(
        label="本周发展会员（人）", min_value=0, max_value=10_000_000, initial=0
    )
    progress = forms.CharField(
        label="本周工作进展", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    problems = forms.CharField(
        label="存在问题", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    next_steps = forms.CharField(
        label="下周计划", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
