"""Collect a class at the deadline: each student's repository at its last commit before it, as nbgrader lays out
``submitted/STUDENT/NN_name/`` (with ``timestamp.txt``), and a record of which commit was graded.

Each repository is kept as a bare clone in ``OUT/.repos/`` (fetched again on the next run), and the chosen commit's
tree is exported with ``git archive`` into ``OUT/STUDENT/``, so the graded folder holds no ``.git``. A repository
that is missing, empty or has no commit before the deadline gets its row in ``collected.csv``, never a crash.

A commit's time as the grader can vouch for it (``timestamp.txt``, what lateness is measured from): its committer
date (set by the student's machine, as any git date is), but never earlier than the last fetch that did not yet
see the commit, nor later than the first that did. Each fetch's time and the first fetch that saw each commit are
kept in ``OUT/.repos/STUDENT.seen.json``; collecting before the deadline and again after it catches a commit
backdated and pushed late. (GitHub's push times, the repository's activity, are finer and not read here.)

Each row also says whether the commit's ``.github/workflows/*.yml`` are the student template's (``workflow``:
unchanged, changed or missing; empty where the grader has no template to compare with).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from autograder.errors import AutograderError
from autograder.inert import csv_safe
from autograder.paths import ROOT

RECORD = "collected.csv"
REPOS = ".repos"
SEEN_SUFFIX = ".seen.json"  # beside each kept clone: when each commit was first fetched
TEMPLATE_DIR = ROOT / "student_template"  # the workflows every student repository starts with
URL_COLUMNS = ("student_repository_url", "repository_url", "repo_url", "url")  # a grades export's column first
NAME_COLUMNS = ("roster_identifier", "identifier", "github_username", "student", "login")
ASSIGNMENT_DIR = re.compile(r"^\d\d_\w+$")


class CollectError(AutograderError):
    """The roster or the deadline cannot be read."""


@dataclass(frozen=True)
class Student:
    name: str  # the folder name under submitted/
    url: str


@dataclass(frozen=True)
class Collected:
    student: str
    url: str
    status: str  # collected, missing, empty, no-commit-before-deadline
    commit: str = ""
    committed_at: str = ""
    message: str = ""
    seen_at: str = ""  # the first fetch that saw the commit
    submitted_at: str = ""  # what timestamp.txt says: committed_at bounded by the fetches
    workflow: str = ""  # unchanged, changed, missing, or "" (no template to compare with)


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 time; UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CollectError(f"deadline {text!r} is not an ISO 8601 time such as 2025-03-01T23:59:00+01:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_roster(path: Path, url_template: Optional[str] = None) -> list[Student]:
    """A roster CSV (a grades export with ``student_repository_url``, or a roster with ``github_username`` and
    ``url_template``) or a list of repository URLs, one a line (``#`` comments allowed)."""
    text = path.read_text(encoding="utf-8-sig")
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if "," not in first:  # a plain list of URLs
        urls = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        return _unique([Student(_folder_name(_repository_name(u)), u) for u in urls])
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = {c.strip().lower(): c for c in (rows[0].keys() if rows else [])}
    url_column = next((columns[c] for c in URL_COLUMNS if c in columns), None)
    name_column = next((columns[c] for c in NAME_COLUMNS if c in columns), None)
    if url_column is None and (url_template is None or name_column is None):
        raise CollectError(f"{path}: no repository URL column ({', '.join(URL_COLUMNS)}); for a roster of "
                           "usernames pass --url-template, e.g. https://github.com/ORG/cnn-{student}.git")
    students = []
    for row in rows:
        name = (row.get(name_column) or "").strip() if name_column else ""
        url = (row.get(url_column) or "").strip() if url_column else ""
        if not url and url_template and name:
            url = url_template.format(student=name)
        name = name or _repository_name(url)
        if name:
            students.append(Student(_folder_name(name), url))
    return _unique(students)


def collect(students: Sequence[Student], deadline: datetime, out: Path) -> list[Collected]:
    """Fetch every student's repository and export its last commit before ``deadline`` into ``out/STUDENT/``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [collect_one(s, deadline, out) for s in students]
    with open(out / RECORD, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(Collected.__dataclass_fields__))
        writer.writeheader()
        writer.writerows({k: csv_safe(v) for k, v in asdict(r).items()} for r in rows)
    return rows


def collect_one(student: Student, deadline: datetime, out: Path) -> Collected:
    row = lambda status, message, **kw: Collected(student.name, student.url, status, message=message, **kw)  # noqa: E731
    if not student.url:
        return row("missing", "no repository URL in the roster")
    mirror = out / REPOS / f"{student.name}.git"
    fetched = _fetch(student.url, mirror)
    if fetched is not None:
        shutil.rmtree(mirror, ignore_errors=True)
        return row("missing", f"cannot fetch the repository: {fetched}")
    if _git(mirror, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").returncode != 0:
        return row("empty", "the repository has no commits")
    seen = record_fetch(mirror)
    before = _git(mirror, "rev-list", "-1", f"--before={deadline.isoformat()}", "HEAD").stdout.strip()
    if not before:
        return row("no-commit-before-deadline", f"every commit is after {deadline.isoformat()}")
    when = datetime.fromisoformat(_git(mirror, "show", "-s", "--format=%cI", before).stdout.strip())
    target = out / student.name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", str(mirror), "archive", "--format=tar", before],
                             capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    first, submitted = vouched_time(seen, before, when)
    stamp = submitted.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for folder in [p for p in target.iterdir() if p.is_dir() and not p.is_symlink() and ASSIGNMENT_DIR.match(p.name)]:
        (folder / "timestamp.txt").write_text(stamp)  # where nbgrader reads a submission's time
    return Collected(student.name, student.url, "collected", before, when.isoformat(),
                     f"last commit before {deadline.isoformat()}", first.isoformat(), submitted.isoformat(),
                     workflow_state(target))


def record_fetch(mirror: Path) -> dict:
    """Note this fetch's time and the first sighting of every commit now in ``mirror``; the whole record."""
    path = mirror.with_name(mirror.name.removesuffix(".git") + SEEN_SUFFIX)
    try:
        seen = json.loads(path.read_text())
    except (OSError, ValueError):
        seen = {}
    seen.setdefault("fetches", [])
    seen.setdefault("first_seen", {})
    now = datetime.now(timezone.utc).isoformat()
    for sha in _git(mirror, "rev-list", "--all").stdout.split():
        seen["first_seen"].setdefault(sha, now)
    seen["fetches"].append(now)
    path.write_text(json.dumps(seen))
    return seen


def vouched_time(seen: dict, commit: str, committed: datetime) -> tuple[datetime, datetime]:
    """(first fetch that saw ``commit``, its time as the grader vouches for it): the committer date, no earlier
    than the last fetch before that one, no later than that one."""
    first = datetime.fromisoformat(seen["first_seen"][commit])
    earlier = [datetime.fromisoformat(t) for t in seen["fetches"] if datetime.fromisoformat(t) < first]
    floor = max(earlier) if earlier else committed
    return first, min(first, max(committed, floor))


def workflow_digest(root: Path) -> Optional[str]:
    """sha256 over ``root/.github/workflows/*.yml`` (names and bytes; links not followed); None where none."""
    folder = root / ".github" / "workflows"
    files = sorted(p for p in folder.glob("*.y*ml") if p.is_file() and not p.is_symlink()) if folder.is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def workflow_state(submission: Path, template: Path = TEMPLATE_DIR) -> str:
    """unchanged, changed or missing against the student template's workflows ("" without a template)."""
    expected = workflow_digest(template)
    if expected is None:
        return ""
    found = workflow_digest(submission)
    return "missing" if found is None else "unchanged" if found == expected else "changed"


def workflow_record(class_dir: Path) -> dict[str, str]:
    """{student: workflow state} from ``class_dir/collected.csv`` (empty where collect did not write one)."""
    try:
        with open(class_dir / RECORD, newline="", encoding="utf-8") as fh:
            return {r["student"]: r.get("workflow") or "" for r in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error):
        return {}


def table(rows: Sequence[Collected]) -> str:
    lines = [f"{'student':20}  {'status':26}  {'commit':12}  message"]
    lines += [f"{r.student:20}  {r.status:26}  {r.commit[:12]:12}  {r.message}" for r in rows]
    return "\n".join(lines)


def _fetch(url: str, mirror: Path) -> Optional[str]:
    """Clone ``url`` bare into ``mirror``, or update it; the error's last line when that fails."""
    if (mirror / "HEAD").is_file():
        done = _git(mirror, "fetch", "--prune", "--force", "origin", "+refs/heads/*:refs/heads/*")
        if done.returncode == 0:
            _git(mirror, "remote", "set-head", "origin", "--auto")
            return None
        shutil.rmtree(mirror, ignore_errors=True)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["git", "clone", "--bare", "--quiet", url, str(mirror)], capture_output=True, text=True,
                          env=_environment(), timeout=600)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"git exited with {done.returncode}"])[-1]
    return None


def _git(mirror: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "--git-dir", str(mirror), *args], capture_output=True, text=True,
                          env=_environment(), timeout=600)


def _environment() -> dict[str, str]:
    """Never ask for a password (a missing GitHub repository would prompt), and ignore the user's git config."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GCM_INTERACTIVE": "never"}


def _repository_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") if url else ""


def _folder_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    return safe or "unnamed"


def _unique(students: list[Student]) -> list[Student]:
    seen: dict[str, int] = {}
    unique = []
    for s in students:
        n = seen[s.name] = seen.get(s.name, 0) + 1
        unique.append(s if n == 1 else Student(f"{s.name}_{n}", s.url))
    return unique
