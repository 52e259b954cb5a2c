"""Who may do what in training, and the error a broken rule of a course raises."""

TAKE = "training.take_courses"
ASSIGN = "training.assign_courses"
REPORT = "training.view_training_report"
MANAGE = "training.manage_courses"


class TrainingError(Exception):
    """A rule of the course was not met; the message is shown to the person."""


class AttemptsExhausted(TrainingError):
    pass
