"""Signals of the transaction feed for later layers (benefits' subsidies connect in their
AppConfig.ready and enqueue their own Celery task)."""

from django.dispatch import Signal

# Sent on commit after an import stored new transactions (purchases, refunds, reversals), with
# `txn_import_id`: the TxnImport whose rows (CardTransaction.txn_import_id) are new.
transactions_imported = Signal()
