"""Writes for benefits, one module per kind of work:

    common.py          money to the cent, refusing with every problem listed
    claims.py          claims and their review
    member_claims.py   a member's own claim with a proof file (members' site); reading proofs, audited
    four_eyes.py       who may prepare, approve, export, confirm, download a batch
    disbursements.py   the disbursement workflow: create, build the list, submit, approve, return
    payment_sheets.py  uploaded payment lists: reading, parsing, adding to a batch
    bankfiles.py       the payment file to the bank (export job, download) and its confirmation

The public names are re-exported here, so `from benefits import services` keeps working; new
code may import from the specific module."""

from .bankfiles import (
    CONFIRM_FAIL,
    CONFIRM_OK,
    disbursement_confirm,
    disbursement_download,
    disbursement_export,
    disbursement_export_reopen,
    disbursement_write_payment_file,
    payment_file_name,
)
from .claims import (
    claim_approve,
    claim_create,
    claim_record,
    claim_reject,
)
from .common import (
    CENT,
    MAX_ERRORS_SHOWN,
)
from .disbursements import (
    Entry,
    disbursement_add_claims,
    disbursement_add_entries,
    disbursement_add_filtered,
    disbursement_approve,
    disbursement_create,
    disbursement_remove_line,
    disbursement_return,
    disbursement_submit,
    disbursement_totals,
)
from .four_eyes import (
    CONFIRM_ROLES,
    DOWNLOAD_ROLES,
    PREPARE_ROLES,
    S,
    disbursement_approve_refusal,
    disbursement_confirm_refusal,
    disbursement_download_refusal,
    disbursement_export_refusal,
    disbursement_prepare_refusal,
    may_prepare,
)
from .member_claims import (
    claim_proof_read,
    claim_submit_by_member,
    proof_limit,
)
from .payment_sheets import (
    AMOUNT_HEADERS,
    CARD_HEADERS,
    ID_HEADERS,
    NAME_HEADERS,
    disbursement_import_sheet,
    parse_payment_sheet,
    read_rows,
)

__all__ = [
    "CENT",
    "MAX_ERRORS_SHOWN",
    "claim_approve",
    "claim_create",
    "claim_record",
    "claim_reject",
    "claim_proof_read",
    "claim_submit_by_member",
    "proof_limit",
    "CONFIRM_ROLES",
    "DOWNLOAD_ROLES",
    "PREPARE_ROLES",
    "S",
    "disbursement_approve_refusal",
    "disbursement_confirm_refusal",
    "disbursement_download_refusal",
    "disbursement_export_refusal",
    "disbursement_prepare_refusal",
    "may_prepare",
    "Entry",
    "disbursement_add_claims",
    "disbursement_add_entries",
    "disbursement_add_filtered",
    "disbursement_approve",
    "disbursement_create",
    "disbursement_remove_line",
    "disbursement_return",
    "disbursement_submit",
    "disbursement_totals",
    "AMOUNT_HEADERS",
    "CARD_HEADERS",
    "ID_HEADERS",
    "NAME_HEADERS",
    "disbursement_import_sheet",
    "parse_payment_sheet",
    "read_rows",
    "CONFIRM_FAIL",
    "CONFIRM_OK",
    "disbursement_confirm",
    "disbursement_download",
    "disbursement_export",
    "disbursement_export_reopen",
    "disbursement_write_payment_file",
    "payment_file_name",
]
