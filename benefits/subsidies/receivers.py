"""The feed tells later layers that an import stored new transactions; subsidies are computed in
their own Celery task (the import's transaction has committed when the signal is sent)."""

from django.dispatch import receiver

from merchants.usage.signals import transactions_imported


@receiver(transactions_imported, dispatch_uid="subsidies.on_transactions_imported")
def enqueue_subsidies(sender, txn_import_id: int, **kwargs) -> None:
    from .tasks import subsidies_compute_task

    subsidies_compute_task.delay(txn_import_id)
