"""The record ``collect`` writes of each student's repository (``collected.csv``), read by class runs."""

from __future__ import annotations

import csv
from pathlib import Path

RECORD = "collected.csv"


def workflow_record(class_dir: Path) -> dict[str, str]:
    """{student: workflow state} from ``class_dir/collected.csv`` (empty where collect did not write one)."""
    try:
        with open(class_dir / RECORD, newline="", encoding="utf-8") as fh:
            return {r["student"]: r.get("workflow") or "" for r in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error):
        return {}
