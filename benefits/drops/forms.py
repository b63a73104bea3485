from django import forms
from django.utils import timezone

from members.access import visible_unions
from members.models import Union
from merchants.models import Merchant

from .models import Drop
from .services import EDITABLE_FIELDS

MAX_TICKETS = 100_000
MAX_PER_MEMBER = 10


class DropForm(forms.ModelForm):
    opens_at = forms.DateTimeField(
        label="开抢时间",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )
    closes_at = forms.DateTimeField(
        label="结束时间",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )

    class Meta:
        model = Drop
        fields = [*EDITABLE_FIELDS, "counties"]
        widgets = {"counties": forms.CheckboxSelectMultiple, "description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["counties"].queryset = visible_unions(user).filter(
            level__in=[Union.Level.COUNTY, Union.Level.INDUSTRY]
        )
        self.fields["merchant"].queryset = Merchant.objects.filter(status=Merchant.Status.ACTIVE).order_by(
            "name"
        )
        self.fields["picture"].widget.attrs["accept"] = "image/png,image/jpeg,image/webp"

    def clean_tickets(self):
        n = self.cleaned_data["tickets"]
        if not 1 <= n <= MAX_TICKETS:
            raise forms.ValidationError(f"票数应在 1 到 {MAX_TICKETS} 之间")
        return n

    def clean_per_member_limit(self):
        n = self.cleaned_data["per_member_limit"]
        if not 1 <= n <= MAX_PER_MEMBER:
            raise forms.ValidationError(f"每人限抢应在 1 到 {MAX_PER_MEMBER} 张之间")
        return n

    def clean_picture(self):
        picture = self.cleaned_data.get("picture")
        if picture and hasattr(picture, "content_type"):
            if picture.size > 2 * 1024 * 1024:
                raise forms.ValidationError("图片不能超过 2 MB")
            head = picture.read(12)
            picture.seek(0)
            if not (head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8") or head[8:12] == b"WEBP"):
                raise forms.ValidationError("图片只能是 PNG、JPEG 或 WebP 格式")
        return picture

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes:
            if closes <= opens:
                self.add_error("closes_at", "结束时间应晚于开抢时间")
            if opens <= timezone.now() and not self.instance.pk:
                self.add_error("opens_at", "开抢时间应晚于现在")
        return data
