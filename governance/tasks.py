"""Celery tasks: they take ids and are queued after the write commits."""

from celery import shared_task

from portal.background import shows_failures_on

from . import services


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.close_proposal")
def close_proposal(proposal_id: int) -> bool:
    return services.close_proposal(proposal_id) is not None


@shared_task(name="governance.close_due_proposals")
def close_due_proposals() -> list[int]:
    return services.close_due_proposals()


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_opened")
def notify_opened(proposal_id: int) -> int:
    return services.notify_opened(proposal_id)


@shows_failures_on("proposal", "proposal_id")
@shared_task(name="governance.notify_decided")
def notify_decided(proposal_id: int) -> int:
    return services.notify_decided(proposal_id)
