"""The upload of a batch's return file, the bank's (views.py) or a function partner's
(functions.py): the same checks, import and messages for both."""

from django.contrib import messages
from django.shortcuts import redirect

from cardportal.errors import ApplicationError
from cardportal.uploads import upload_refusal

from .forms import UploadForm
from .models import BankBatch
from .services import bankfiles


def return_upload(request, batch: BankBatch, *, kind: str, missing: str, partner=None):
    """A batch's return file (the bank's, or a function partner's: functions.py) uploaded and
    queued for reconciliation; every refusal back on the batch's page with its message."""
    refused = upload_refusal(request)
    if refused is not None:
        messages.error(request, refused.message)
        return redirect(batch)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, missing)
        return redirect(batch)
    upload = form.cleaned_data["file"]
    try:
        imp = bankfiles.import_create(
            kind=kind,
            union=batch.union,
            batch=batch,
            partner=partner,
            file_name=upload.name,
            data=upload.read(),
            actor=request.user,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(batch)
    if imp.same_as_id:
        messages.warning(request, "该文件与此前导入的文件完全相同，重复导入不会改变任何卡片")
    return redirect(imp)
