"""`python -m bench.faults [--long]`: run the fault suite (tests/faults, as root) and print its numbers.

Each case appends one JSON line to a report file (tests/faults/conftest.py::settle_and_report); this
prints them as the README's table. --long makes every fault last 60 s instead of 12.
Needs PostgreSQL and a networked broker: DATABASE_URL and CELERY_BROKER_URL (defaults: the CI's).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [("case", "Fault"), ("note", "How long"), ("pushed", "Images pushed"), ("lost", "Lost"),
           ("wrong", "Wrong digests served"), ("level_after_s", "Level after fault end (s)"),
           ("portal", "Portal showed meanwhile")]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="Faults of 60 s (default 12 s, as in CI).")
    parser.add_argument("-k", default="", help="Only the cases whose test name matches (pytest -k).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "faults.jsonl"
        env = {**os.environ, "FAULTS_REPORT": str(report), "FAULT_SECONDS": "60" if args.long else "12"}
        env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/georegistry_faults")
        env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
        command = [sys.executable, "-m", "pytest", "tests/faults", "-m", "faults", "-q", "-p", "no:cacheprovider"]
        if args.k:
            command += ["-k", args.k]
        result = subprocess.run(command, cwd=ROOT, env=env)
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    print(table(rows))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
