"""Background work of the member libraries: grants rebuilt after a role changed."""

from celery import shared_task

from .role_services import rebuild_and_announce


@shared_task(name="members.rebuild_role_grants")
def rebuild_role_grants_task(role_code: str, permission_ids: list[int]) -> int:
    return rebuild_and_announce(role_code, permission_ids)
