"""Certificates: render N certificate PDFs (QR code included) one after another in one
process, i.e. on one core, and print the time per certificate.

    .venv/bin/python bench/certificates.py [--count 1000] [--save sample.pdf]

It needs no database: each certificate is an unsaved model filled as the portal fills
one at issue time, rendered by the same code the download view uses
(``knowledge_base.training.views.certificates.render_certificate`` -> ``portal.pdf.render_pdf``).
Target (docs/design.md): under 0.5 s per certificate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--save", help="Also write the first certificate to this file.")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from django.utils import timezone

    from knowledge_base.training.models import Certificate, new_verification_code
    from knowledge_base.training.views.certificates import render_certificate

    issued = timezone.now()
    names = ["Ada Lovelace", "José Núñez-García", "Nguyễn Thị Minh Khai", "Zoë O'Brien"]
    courses = ["Patron privacy: the law and our practice", "Customer service at the desk"]
    timings = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for n in range(args.count):
        certificate = Certificate(
            code=new_verification_code(),
            holder_name=names[n % len(names)],
            course_title=courses[n % len(courses)],
            library_name=f"Riverside Public Library — Branch {n % 40 + 1}",
            issued_at=issued,
            expires_at=issued + timedelta(days=365) if n % 2 else None,
        )
        t0 = time.perf_counter()
        pdf = render_certificate(certificate, "https://portal.example.org/")
        timings.append(time.perf_counter() - t0)
        if n == 0 and args.save:
            Path(args.save).write_bytes(pdf)
        assert pdf.startswith(b"%PDF-")
    total = time.perf_counter() - started
    # CPU time of this process: what the renders cost, whatever else the machine is doing.
    cpu = time.process_time() - cpu_started
    ordered = sorted(timings)
    print(f"certificates rendered: {args.count} in {total:.1f} s (one process, one core)")
    print(f"cpu: {cpu / args.count * 1000:.0f} ms per certificate")
    print(f"first (cold): {timings[0] * 1000:.0f} ms")
    print(f"mean: {statistics.mean(timings) * 1000:.0f} ms per certificate")
    print(f"p50: {ordered[len(ordered) // 2] * 1000:.0f} ms")
    print(f"p95: {ordered[int(len(ordered) * 0.95) - 1] * 1000:.0f} ms")
    print(f"max: {ordered[-1] * 1000:.0f} ms")
    print(f"size of one PDF: {len(pdf) / 1024:.0f} KiB")
    print(
        "target: < 500 ms per certificate:", "met" if statistics.mean(timings) < 0.5 else "MISSED"
    )


if __name__ == "__main__":
    main()
