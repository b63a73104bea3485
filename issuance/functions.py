"""Pages of the card functions a second partner enables (`services/functions.py`): the function
section of a batch's page, the partner's hand-off download and its return upload."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from cardportal.actions import run_download
from cardportal.audit import client_ip
from members.access import Cap, access_for

from . import selectors
from .models import BankBatch, BankFileImport, CardFunction, IssuingPartner
from .return_upload import return_upload
from .services import functions


def batch_functions(request, batch: BankBatch) -> list[dict]:
    """For the batch page: each function partner, its cards by status and its return files."""
    if batch.partner.role != IssuingPartner.Role.ISSUER:
        return []
    labels = dict(CardFunction.Status.choices)
    return [
        {
            "partner": partner,
            "counts": [
                (labels[s], n) for s, n in functions.function_counts(batch=batch, partner=partner).items()
            ],
            "imports": batch.imports.filter(kind=BankFileImport.Kind.FUNCTION, partner=partner).order_by(
                "-id"
            ),
            "can_download": access_for(request.user).can(Cap.BANK_FILES),
        }
        for partner in functions.function_partners()
    ]


def _batch_and_partner(request, pk: int, partner_pk: int) -> tuple[BankBatch, IssuingPartner]:
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)  # scoped: 404 outside
    return batch, get_object_or_404(functions.function_partners(), pk=partner_pk)


@login_required
@require_POST
def function_handoff(request, pk, partner_pk):
    batch, partner = _batch_and_partner(request, pk, partner_pk)

    def call():
        name, data = functions.function_handoff_open(
            batch=batch, partner=partner, actor=request.user, ip=client_ip(request)
        )
        return data, name

    return run_download(request, call, back=batch)


@login_required
@require_POST
def function_return_upload(request, pk, partner_pk):
    batch, partner = _batch_and_partner(request, pk, partner_pk)
    missing = f"请选择{partner.name}的回盘文件"
    return return_upload(request, batch, kind=BankFileImport.Kind.FUNCTION, missing=missing, partner=partner)
