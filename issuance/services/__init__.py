"""Writes of the issuance app, one module per kind of work. Every card status change goes through
`lifecycle.cards_transition` (so the monthly counters stay equal to a recount); each service owns
its transaction and audit row.

    common.py       what they share (who may do what is members.access.Cap)
    batches.py      bank batches: which applied cards, building a batch
    handoff.py      the hand-off file to the bank: writing, retry, audited download
    bankfiles.py    files from the bank: upload, retry, the import task's body
    reports.py      the reconciliation report kept on an import
    returns.py      return file (回盘) reconciliation
    activations.py  activation file reconciliation
    receipt.py      at the union: receipt, distribution, activation sessions
    cards.py        one card's events: loss and replacement, cancellation, re-queue, notices
    waves.py        issuance waves

Callers import each name from the module that defines it (`from issuance.services.batches
import batch_create`): nothing is re-exported here, so a name is found where it lives."""
