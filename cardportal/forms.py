from django import forms

from .audit import looks_like_pii, verb_family_choices

# A province holds thousands of grassroots unions: above this many, the union filter offers the
# county level and up (the filter includes every union below the one chosen).
UNION_CHOICES_MAX = 300


class AuditFilterForm(forms.Form):
    family = forms.ChoiceField(label="操作类别", required=False)
    actor = forms.CharField(
        label="操作人（用户名开头）",
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"size": 12}),
    )
    union = forms.ModelChoiceField(label="工会（含下级）", required=False, queryset=None, empty_label="全部")
    date_from = forms.DateField(
        label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    target = forms.CharField(
        label="对象（编号或名称）", required=False, max_length=100, widget=forms.TextInput(attrs={"size": 16})
    )

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", "全部"), *verb_family_choices()]
        if unions is not None and unions.count() > UNION_CHOICES_MAX:
            unions = unions.exclude(level__in=["grassroots", "sub_branch"])
        self.fields["union"].queryset = unions
        self.fields["union"].label_from_instance = lambda u: f"{'　' * u.depth}{u.name}"

    def clean_target(self) -> str:
        target = self.cleaned_data["target"].strip()
        # The log keeps only masked numbers, and a full number typed here would sit in the URL.
        if looks_like_pii(target):
            raise forms.ValidationError(
                "请勿输入完整身份证号或手机号：审计日志只保存脱敏号码，请按姓名或记录编号查询"
            )
        return target

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "截止日期不能早于起始日期")
        return data

    def filters(self) -> dict | None:
        """Keyword arguments for audit_list_for_user; None for an invalid form (show nothing)."""
        if not self.is_bound:
            return {}
        if not self.is_valid():
            return None
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}
