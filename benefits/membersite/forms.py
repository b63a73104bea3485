from django import forms
from django.utils import timezone

from benefits.services.member_claims import proof_limit


class MemberClaimForm(forms.Form):
    """A member's claim: what happened, when, and one proof (checked by cardportal.proofs)."""

    incident_on = forms.DateField(
        label="事由日期",
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # what <input type=date> takes
        error_messages={"required": "请填写事由日期", "invalid": "日期格式不对，请用日历选择"},
    )
    facts = forms.CharField(
        label="事由",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "如：2026年11月在市人民医院做白内障手术"}),
        error_messages={"required": "请填写事由", "max_length": "事由最多300字"},
    )
    # allow_empty_file: an empty file is the proof kernel's file_empty, as on every path
    proof = forms.FileField(
        label="凭证照片或PDF",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}),
        error_messages={"required": "请上传票据或证明的照片（.jpg、.png）或PDF文件"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proof"].label = f"凭证照片或PDF（不超过{proof_limit() / 1048576:.0f}MB）"

    def clean_incident_on(self):
        day = self.cleaned_data["incident_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("事由日期不能晚于今天")
        return day


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="评分",
        coerce=int,
        choices=[(n, f"{n}分") for n in range(5, 0, -1)],
        error_messages={"required": "请选择1至5分", "invalid_choice": "请选择1至5分"},
    )
    comment = forms.CharField(label="评价（可不填）", max_length=500, required=False)
