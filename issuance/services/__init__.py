"""Writes of the issuance app, one module per kind of work. Every card status change goes through
`lifecycle.cards_transition` (so the monthly counters stay equal to a recount); each service owns
its transaction and audit row.

    common.py       roles each kind of work needs, the role check
    batches.py      bank batches: which applied cards, building a batch
    handoff.py      the hand-off file to the bank: writing, retry, audited download
    bankfiles.py    files from the bank: upload, retry, the import task's body
    reports.py      the reconciliation report kept on an import
    returns.py      return file (回盘) reconciliation
    activations.py  activation file reconciliation
    receipt.py      at the union: receipt, distribution, activation sessions
    cards.py        one card's events: loss and replacement, cancellation, re-queue, notices
    waves.py        issuance waves

The public names are re-exported here, so `from issuance import services` keeps working;
new code may import from the specific module."""

from .activations import (
    activation_reconcile,
)
from .bankfiles import (
    import_apply,
    import_create,
    import_retry,
)
from .batches import (
    applied_cards,
    batch_create,
)
from .cards import (
    MEMBER_LOSABLE,
    card_cancel,
    card_report_lost,
    cards_requeue,
    notice_acknowledge,
)
from .common import (
    BATCH_ROLES,
    HANDOFF_ROLES,
    UNION_ROLES,
    R,
    S,
    role_allows,
)
from .handoff import (
    TEXT_FIELDS,
    batch_generate_handoff,
    batch_handoff_open,
    batch_handoff_retry,
    handoff_write,
)
from .receipt import (
    activation_session_record,
    cards_distribute,
    cards_receive,
)
from .reports import (
    REPORT_LIMIT,
)
from .returns import (
    return_reconcile,
)
from .waves import (
    wave_create,
)

__all__ = [
    "BATCH_ROLES",
    "HANDOFF_ROLES",
    "R",
    "S",
    "UNION_ROLES",
    "role_allows",
    "applied_cards",
    "batch_create",
    "TEXT_FIELDS",
    "batch_generate_handoff",
    "batch_handoff_open",
    "batch_handoff_retry",
    "handoff_write",
    "import_apply",
    "import_create",
    "import_retry",
    "REPORT_LIMIT",
    "return_reconcile",
    "activation_reconcile",
    "activation_session_record",
    "cards_distribute",
    "cards_receive",
    "MEMBER_LOSABLE",
    "card_cancel",
    "card_report_lost",
    "cards_requeue",
    "notice_acknowledge",
    "wave_create",
]
