"""Celery tasks: they take ids and are queued after the write commits."""

from celery import shared_task

from portal.background import shows_failures_on


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.close_proposal")
def close_proposal(proposal_id: int) -> bool:
    from .services import close_proposal as close

    return close(proposal_id) is not None


@shared_task(name="governance.close_due_proposals")
def close_due_proposals() -> list[int]:
    from .services import close_due_proposals as close_due

    return close_due()


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_opened")
def notify_opened(proposal_id: int) -> int:
    from .services import notify_opened as notify

    return notify(proposal_id)


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_decided")
def notify_decided(proposal_id: int) -> int:
    from .services import notify_decided as notify

    return notify(proposal_id)
