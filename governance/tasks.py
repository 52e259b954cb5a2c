"""Celery tasks: they take ids, are queued after the write commits, and call the services."""

from celery import shared_task

from portal.background import shows_failures_on

from .services import closing, notifications


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.close_proposal")
def close_proposal(proposal_id: int) -> bool:
    return closing.close_proposal(proposal_id) is not None


@shared_task(name="governance.close_due_proposals")
def close_due_proposals() -> list[int]:
    return closing.close_due_proposals()


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_opened")
def notify_opened(proposal_id: int) -> int:
    return notifications.notify_opened(proposal_id)


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_decided")
def notify_decided(proposal_id: int) -> int:
    return notifications.notify_decided(proposal_id)
