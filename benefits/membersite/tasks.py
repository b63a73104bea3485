from celery import shared_task

from .services import signin_code_send


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def signin_code_send_task(challenge_id: int, sealed_code: str) -> int | None:
    return signin_code_send(challenge_id=challenge_id, sealed_code=sealed_code)


@shared_task(acks_late=True)
def signin_codes_purge_task() -> int:
    from .services import signin_codes_purge

    return signin_codes_purge()
