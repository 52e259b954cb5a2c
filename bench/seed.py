"""Time ``manage.py seed_demo`` phase by phase against DATABASE_URL.

    DATABASE_URL=postgres://... .venv/bin/python bench/seed.py                 # 500 / 1,000,000
    DATABASE_URL=postgres://... .venv/bin/python bench/seed.py --patrons 100000

It runs with the dev settings (seed_demo needs DEBUG) and ``--reset``, so point it at a
database you can throw away. Prints seconds per phase, the peak memory of the process
and the row counts.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", type=int, default=500)
    parser.add_argument("--patrons", type=int, default=1_000_000)
    parser.add_argument("--staff-per-library", type=int, default=3)
    parser.add_argument("--migrate", action="store_true", help="run migrations first")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a database that may be wiped")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from portal.management.commands.seed_demo import Command

    if args.migrate:
        call_command("migrate", verbosity=0)
    command = Command()
    out = io.StringIO()
    started = time.perf_counter()
    call_command(
        command,
        libraries=args.libraries,
        patrons=args.patrons,
        staff_per_library=args.staff_per_library,
        reset=True,
        stdout=out,
    )
    wall = time.perf_counter() - started

    print(
        f"seed_demo --libraries {args.libraries} --patrons {args.patrons} "
        f"--staff-per-library {args.staff_per_library} on {connection.vendor}"
    )
    for name, seconds in command.timings:
        print(f"  {name:<24} {seconds:8.2f} s")
    print(f"  {'wall (incl. summary)':<24} {wall:8.2f} s")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak_mib:.0f} MiB")
    print(out.getvalue().split("\n\n")[0])


if __name__ == "__main__":
    main()
