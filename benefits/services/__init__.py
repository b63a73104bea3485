"""Writes for benefits, one module per kind of work:

    common.py          money to the cent, refusing with every problem listed
    claims.py          claims and their review
    member_claims.py   a member's own claim with a proof file (members' site); reading proofs, audited
    four_eyes.py       who may prepare, approve, export, confirm, download a batch
    disbursements.py   the disbursement workflow: create, build the list, submit, approve, return
    payment_sheets.py  uploaded payment lists: reading, parsing, adding to a batch
    bankfiles.py       the payment file to the bank (export job, download) and its confirmation

Callers import each name from the module that defines it (`from benefits.services.claims import
claim_create`): nothing is re-exported here, so a name is found where it lives."""
