from .apps import calls


def seed(libraries, options):
    calls.append(("seeded", str(options["greetings"])))
    return {"greetings": options["greetings"]}


def reset():
    calls.append(("reset", ""))
