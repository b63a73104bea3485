from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.choices import BaseChoiceIterator
from django.utils.translation import gettext_lazy as _

from .models import Member, Union
from .selectors import ancestor_paths
from .validation import REASON_LABELS

COUNTY_LEVELS = (Union.Level.COUNTY, Union.Level.INDUSTRY)


class UnionGroupedChoices:
    """A long list of unions, grouped under their county (<optgroup>), so a clerk or a reviewer
    finds "泊头市…工会" under 泊头市总工会 instead of scrolling hundreds of names. Unions at or
    above the county level come first, ungrouped. Validation stays the queryset's (Django looks
    a submitted id up in it); only the rendering is grouped, and lazily, like Django's own."""

    def _get_choices(self):
        if hasattr(self, "_choices"):
            return self._choices
        return _GroupedUnions(self)

    choices = property(_get_choices, forms.ChoiceField.choices.fset)


class _GroupedUnions(BaseChoiceIterator):
    def __init__(self, field):
        self.field = field

    def __iter__(self):
        field = self.field
        unions = list(field.queryset)
        # Group under the counties in the list itself: no extra query; a list with no county in
        # it (a clerk's own units) is short and stays flat.
        counties = {u.path: u.name for u in unions if u.level in COUNTY_LEVELS}
        if field.empty_label is not None:
            yield ("", field.empty_label)
        groups: dict[str, list] = {}
        for union in unions:
            choice = (field.prepare_value(union), field.label_from_instance(union))
            county = next((counties[p] for p in ancestor_paths(union.path) if p in counties), None)
            if county is None:
                yield choice
            else:
                groups.setdefault(county, []).append(choice)
        yield from groups.items()


class UnionChoiceField(UnionGroupedChoices, forms.ModelChoiceField):
    pass


class UnionMultipleChoiceField(UnionGroupedChoices, forms.ModelMultipleChoiceField):
    pass


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": "姓名（前几个字）、完整身份证号或手机号", "autofocus": True}
        ),
    )
    union = UnionChoiceField(label=_("工会"), queryset=Union.objects.none(), required=False)
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
    to_union = UnionChoiceField(label=_("转入工会"), queryset=Union.objects.none())
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unions is not None:
            self.fields["to_union"].queryset = unions.filter(
                level__in=[Union.Level.GRASSROOTS, Union.Level.SUB_BRANCH]
            )


class SheetUploadForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,  # an empty file is the table kernel's file_empty, as on every path
        label=_("登记表文件"),
        help_text=_("Excel（.xlsx、.xls）或 CSV（UTF-8 或 GBK）；请使用下载的模板"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
    )
    union = UnionChoiceField(label=_("基层工会"), queryset=Union.objects.none())
    declared_members = forms.IntegerField(label=_("确认书：会员人数"), min_value=0)
    declared_id_copies = forms.IntegerField(label=_("确认书：身份证复印件份数"), min_value=0)

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A registry migration declares its whole city (2 M members): the letter's counts go as
        # high as the largest sheet any role may upload.
        for name in ("declared_members", "declared_id_copies"):
            field = self.fields[name]
            field.max_value = settings.MIGRATION_MAX_ROWS
            field.validators.append(MaxValueValidator(settings.MIGRATION_MAX_ROWS))
            field.widget.attrs["max"] = settings.MIGRATION_MAX_ROWS
        self.fields["union"].queryset = unions if unions is not None else Union.objects.none()
        only = list(unions[:2]) if unions is not None else []
        if len(only) == 1:
            self.fields["union"].initial = only[0].pk
            self.fields["union"].widget = forms.HiddenInput()


class SheetReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("退回原因"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "请写明需要修改的内容"}),
    )


class SheetRowFilterForm(forms.Form):
    reason = forms.ChoiceField(label=_("原因"), required=False)

    def __init__(self, *args, reasons=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "全部")] + [
            (r, f"{REASON_LABELS.get(r, r)}（{n}）") for r, n in reasons
        ]


class SubmissionGroupForm(forms.Form):
    name = forms.CharField(label=_("分组名称"), max_length=50)
    due_date = forms.DateField(label=_("截止日期"), widget=forms.DateInput(attrs={"type": "date"}))
    unions = UnionMultipleChoiceField(
        label=_("单位"), queryset=Union.objects.none(), widget=forms.SelectMultiple(attrs={"size": 12})
    )

    def __init__(self, *args, unions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unions is not None:
            self.fields["unions"].queryset = unions
