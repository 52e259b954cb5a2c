from celery import shared_task


@shared_task(name="concord_hello.tasks.tidy")
def tidy() -> str:
    return "tidied"
