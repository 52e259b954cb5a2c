"""Background work of the member libraries: grants rebuilt after a role changed."""

from celery import shared_task


@shared_task(name="members.rebuild_role_grants")
def rebuild_role_grants_task(role_code: str, permission_ids: list[int]) -> int:
    from .grants import rebuild_role_grants

    return rebuild_role_grants(role_code, permission_ids)
