"""The policy manual: render N current policies (table of contents with page numbers) to one
PDF and print the time and the page count.

    .venv/bin/python bench/policy_manual.py [--policies 60] [--save manual.pdf]

It needs no database: each policy is an unsaved version filled as publication fills one
(four sections of five numbered clauses, a table and a callout), rendered by the template
and the ``portal.pdf.render_pdf`` call that the manual view uses.
Target (issue): under 10 s for 60 policies. The printed body is flat markup
(``policies/pdf/_body.html``): see bench/RESULTS.md for what the profile showed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")

CLAUSE = (
    "Member libraries lend items to any patron in good standing of another member library "
    "under the same loan periods and limits as their own patrons, and record the loan in the "
    "shared catalogue on the day it is made."
)


def policy_body(n: int) -> list[dict]:
    blocks = []
    for s in range(1, 5):
        blocks.append({"type": "section", "value": {"heading": f"Section {s} of policy {n}"}})
        blocks += [{"type": "clause", "value": f"<p>{CLAUSE} ({s}.{c})</p>"} for c in range(1, 6)]
    blocks.append(
        {
            "type": "table",
            "value": {
                "first_row_is_table_header": True,
                "first_col_is_header": False,
                "data": [["Material", "Loan", "Renewals"]]
                + [[f"Type {i}", f"{7 * i} days", str(i % 3)] for i in range(1, 7)],
            },
        }
    )
    blocks.append(
        {"type": "callout", "value": {"kind": "note", "text": "<p>Ask the office first.</p>"}}
    )
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=60)
    parser.add_argument("--save", help="Also write the manual to this file.")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from pypdf import PdfReader

    from knowledge_base.policies.blocks import numbered
    from knowledge_base.policies.models import PolicyVersion
    from portal.pdf import render_pdf

    entries = []
    for n in range(1, args.policies + 1):
        code = f"POL-{n:03}"
        # Only the code and title of the page are read by the template.
        page = SimpleNamespace(title=f"Policy number {n}", code=code)
        version = PolicyVersion(
            number=3,
            code=code,
            title=page.title,
            body=policy_body(n),
            effective_date=date(2026, 1, 1),
            authority_label="Proposal 12: adopted by the Policy Committee",
            material_base=3,
        )
        entries.append({"page": page, "version": version, "blocks": numbered(version.stream)})

    started, cpu_started = time.perf_counter(), time.process_time()
    pdf = render_pdf("policies/pdf/manual.html", {"entries": entries, "today": date.today()})
    elapsed = time.perf_counter() - started
    # CPU time of this process: what the render costs, whatever else the machine is doing.
    cpu = time.process_time() - cpu_started
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    if args.save:
        Path(args.save).write_bytes(pdf)
    print(f"policies: {args.policies}")
    print(f"pages: {pages}")
    print(f"bytes: {len(pdf)}")
    print(f"seconds: {elapsed:.2f}")
    print(f"cpu seconds: {cpu:.2f}")
    print(f"target under 10 s: {'met' if elapsed < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
