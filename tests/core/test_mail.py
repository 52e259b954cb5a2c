from django.core import mail as outbox

from portal import mail

from .test_pdf import TEMPLATES_DIR


def test_a_templated_message_has_a_one_line_subject_the_body_and_the_library_reply_to(
    settings,
):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}
    ]
    settings.DEFAULT_FROM_EMAIL = "office@consortium.example.org"
    context = {"name": "Southeast Libraries", "person": "Ada"}
    mail.send(
        "ada@example.org",
        "mail_test/hello.txt",
        context,
        subject_template="mail_test/hello_subject.txt",
        reply_to="desk@north.example.org",
    )
    (sent,) = outbox.outbox
    assert sent.subject == "Welcome to Southeast Libraries"
    assert sent.body == "Hello Ada,\n\nThe Southeast Libraries office.\n"
    assert sent.to == ["ada@example.org"]
    assert sent.from_email == "office@consortium.example.org"
    assert sent.reply_to == ["desk@north.example.org"]


def test_a_given_subject_and_no_reply_to(settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}
    ]
    message = mail.message(
        "bo@example.org", "mail_test/hello.txt", {"name": "X", "person": "Bo"}, subject="Hi"
    )
    assert (message.subject, message.reply_to) == ("Hi", [])
