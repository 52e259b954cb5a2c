from django.dispatch import receiver

from portal.signals import course_completed, periodic

from .apps import calls


@receiver(course_completed, dispatch_uid="hello.course_completed")
def congratulate(sender, user, course, completion, **kwargs):
    calls.append(("course_completed", sender.code))


@receiver(periodic, dispatch_uid="hello.periodic")
def on_periodic(sender, now, **kwargs):
    calls.append(("periodic", ""))
