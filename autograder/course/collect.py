"""Collect a class at the deadline: each student's repository at its last commit that arrived in time, as nbgrader
lays out ``submitted/STUDENT/NN_name/`` (with ``timestamp.txt``), and a record of which commit was graded.

Each repository is kept as a bare clone in ``OUT/.repos/`` (fetched again on the next run), and the chosen commit's
tree is exported with ``git archive`` into ``OUT/STUDENT/``, so the graded folder holds no ``.git``. A repository
that is missing, empty or cannot be exported gets its row in ``collected.csv``, never a crash of the class.

A commit's time (``timestamp.txt``, what lateness is measured from) comes only from evidence the student cannot
write, and is the earliest of:

- the first of the instructor's fetches that saw the commit (each fetch's time and each commit's first sighting are
  kept in ``OUT/.repos/STUDENT.seen.json``);
- for a repository on GitHub, the time of the earliest push that brought it: GitHub's record of the repository's
  activity (``GET /repos/OWNER/NAME/activity``; each ref update's time and pushed commit, ``after``), the commit
  being any that ``after`` reaches. The API is ``$GITHUB_API_URL`` (default ``https://api.github.com``), read with
  ``$GITHUB_TOKEN`` (or ``$GH_TOKEN``) where set; a record that cannot be read is named in the row's message.

So a commit is on time only if a fetch at or before the deadline saw it, or GitHub received it by then. The
committer date (set by the student's machine, as any git date is) is recorded but never trusted. The commit graded
is the newest of the default branch's history that was on time; where none was, the branch's head, ``late`` by
its own time. ``timestamp.txt`` is the collector's own regular file in each assignment folder: whatever the commit
held at that path (a file, a symlink, a folder) is removed first, and nothing is written through a link.

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
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import urlsplit

from autograder.classrun.collected import RECORD, workflow_record
from autograder.errors import AutograderError
from autograder.inert import csv_safe
from autograder.paths import ROOT

REPOS = ".repos"
SEEN_SUFFIX = ".seen.json"  # beside each kept clone: when each commit was first fetched
TIMESTAMP = "timestamp.txt"  # where nbgrader reads a submission's time
TEMPLATE_DIR = ROOT / "student_template"  # the workflows every student repository starts with
URL_COLUMNS = ("student_repository_url", "repository_url", "repo_url", "url")  # a grades export's column first
NAME_COLUMNS = ("roster_identifier", "identifier", "github_username", "student", "login")
ASSIGNMENT_DIR = re.compile(r"^\d\d_\w+$")
API_URL = "https://api.github.com"  # GitHub's REST API; $GITHUB_API_URL names another (GitHub Enterprise)
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")  # a token that can read the students' (private) repositories
ACTIVITY_PAGES = 10  # of 100 entries: a repository's last 1,000 ref updates
RESPONSE_BYTES = 5 * 2**20
SHA = re.compile(r"^[0-9a-f]{40}$")


class CollectError(AutograderError):
    """The roster or the deadline cannot be read."""


class PushRecordError(CollectError):
    """The host's record of a repository's pushes cannot be read."""


@dataclass(frozen=True)
class Student:
    name: str  # the folder name under submitted/
    url: str


@dataclass(frozen=True)
class Push:
    """One entry of the host's push record: ``ref`` moved to the commit ``after`` at ``at``."""

    at: datetime
    after: str
    ref: str = ""
    kind: str = "push"  # GitHub's activity_type: push, force_push, branch_creation, pr_merge, ...


@dataclass(frozen=True)
class Collected:
    student: str
    url: str
    status: str  # collected (on time), late (no commit was on time: the head), missing, empty, error
    commit: str = ""
    committed_at: str = ""  # the committer date: the student's claim, recorded, never trusted
    message: str = ""
    seen_at: str = ""  # the first fetch that saw the commit
    pushed_at: str = ""  # the earliest push that brought it, by the host's record ("" without one)
    submitted_at: str = ""  # what timestamp.txt says: the earlier of seen_at and pushed_at
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


def collect(students: Sequence[Student], deadline: datetime, out: Path, api: Optional[str] = None
            ) -> list[Collected]:
    """Fetch every student's repository and export its last commit on time (see the module) into
    ``out/STUDENT/``; ``api``: GitHub's API (default ``$GITHUB_API_URL``, else ``https://api.github.com``)."""
    api = api or os.environ.get("GITHUB_API_URL") or API_URL
    out.mkdir(parents=True, exist_ok=True)
    rows = [collect_one(s, deadline, out, api) for s in students]
    with open(out / RECORD, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(Collected.__dataclass_fields__))
        writer.writeheader()
        writer.writerows({k: csv_safe(v) for k, v in asdict(r).items()} for r in rows)
    return rows


def collect_one(student: Student, deadline: datetime, out: Path, api: str = API_URL) -> Collected:
    """One student's row; a repository that breaks the export costs its own row (``error``), never the class."""
    try:
        return _collect_one(student, deadline, out, api)
    except Exception as exc:  # a commit no extraction accepts, a git that fails, ...: this student only
        shutil.rmtree(out / student.name, ignore_errors=True)  # nothing half exported is graded
        return Collected(student.name, student.url, "error",
                         message=f"cannot collect: {type(exc).__name__}: {exc}".strip())


def _collect_one(student: Student, deadline: datetime, out: Path, api: str) -> Collected:
    row = lambda status, message, **kw: Collected(student.name, student.url, status, message=message, **kw)  # noqa: E731
    if not student.url:
        return row("missing", "no repository URL in the roster")
    mirror = out / REPOS / f"{student.name}.git"
    fetched = _fetch(student.url, mirror)
    if fetched is not None:
        shutil.rmtree(mirror, ignore_errors=True)
        return row("missing", f"cannot fetch the repository: {fetched}")
    seen = record_fetch(mirror)
    if _git(mirror, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").returncode != 0:
        return row("empty", "the repository has no commits")
    try:
        pushed, unrecorded = pushed_times(mirror, read_pushes(student.url, api)), ""
    except PushRecordError as exc:
        pushed, unrecorded = {}, f"; no push record ({exc})"
    history = _git(mirror, "rev-list", "--topo-order", "HEAD").stdout.split()  # children before parents
    on_time = next((c for c in history if vouched_time(seen, pushed, c) <= deadline), None)
    chosen = on_time or history[0]
    when = vouched_time(seen, pushed, chosen)
    export(mirror, chosen, out / student.name, when)
    if on_time:
        status, message = "collected", f"last commit received by {deadline.isoformat()}"
        message += "; the head came after it" if on_time != history[0] else ""
    else:
        status, message = "late", f"no commit was received by {deadline.isoformat()}: the head, late"
    committed = _git(mirror, "show", "-s", "--format=%cI", chosen).stdout.strip()
    return row(status, message + unrecorded, commit=chosen, committed_at=committed,
               seen_at=seen["first_seen"][chosen], pushed_at=pushed[chosen].isoformat() if chosen in pushed else "",
               submitted_at=when.isoformat(), workflow=workflow_state(out / student.name))


def export(mirror: Path, commit: str, target: Path, submitted: datetime) -> None:
    """``commit``'s tree into a new ``target``, with the collector's own ``timestamp.txt`` (``submitted``, as nbgrader
    writes it) in each assignment folder."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", str(mirror), "archive", "--format=tar", commit],
                             capture_output=True, check=True, env=_environment(), timeout=600)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    stamp = submitted.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for folder in [p for p in target.iterdir() if p.is_dir() and not p.is_symlink() and ASSIGNMENT_DIR.match(p.name)]:
        write_timestamp(folder / TIMESTAMP, stamp)


def write_timestamp(path: Path, text: str) -> None:
    """Replace whatever ``path`` is (a regular file, a symlink, a folder) with a new regular file of ``text``."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def record_fetch(mirror: Path) -> dict:
    """Note this fetch's time (taken once it is done) and the first sighting of every commit now in ``mirror``;
    the whole record."""
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


def vouched_time(seen: dict, pushed: dict[str, datetime], commit: str) -> datetime:
    """When ``commit`` was on the host at the latest, by evidence the student cannot write: the earlier of the
    first fetch that saw it and the earliest push that brought it."""
    first = datetime.fromisoformat(seen["first_seen"][commit])
    return min(first, pushed[commit]) if commit in pushed else first


def pushed_times(mirror: Path, pushes: Sequence[Push]) -> dict[str, datetime]:
    """{commit: the time of the earliest push whose pushed commit reaches it} for the commits in ``mirror``."""
    arrived: dict[str, datetime] = {}
    for push in sorted(pushes, key=lambda p: p.at):
        reached = _git(mirror, "rev-list", push.after, "--")
        if reached.returncode == 0:  # else: a commit no longer in the repository (force-pushed away)
            for sha in reached.stdout.split():
                arrived.setdefault(sha, push.at)
    return arrived


def read_pushes(url: str, api: str = API_URL, token: Optional[str] = None) -> list[Push]:
    """GitHub's record of the ref updates of the repository at ``url`` (its activity), the last
    ``ACTIVITY_PAGES`` pages; raises :class:`PushRecordError` where there is none to read. ``token``: default
    ``$GITHUB_TOKEN`` or ``$GH_TOKEN``; it is sent to ``api`` only."""
    repository = github_repository(url, api)
    if repository is None:
        raise PushRecordError("not a repository on GitHub")
    if token is None:
        token = next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
    base = api.rstrip("/")
    page: Optional[str] = f"{base}/repos/{repository}/activity?per_page=100"
    pushes: list[Push] = []
    for _ in range(ACTIVITY_PAGES):
        if page is None:
            break
        entries, page = _activity_page(page, token)
        pushes += [p for p in map(_push, entries) if p is not None]
        page = page if page and page.startswith(f"{base}/") else None  # the token goes to the API alone
    return pushes


def github_repository(url: str, api: str = API_URL) -> Optional[str]:
    """``OWNER/NAME`` of a repository URL on GitHub (github.com, or the host of ``api``); None elsewhere."""
    scp = re.match(r"^[\w.-]+@([\w.-]+):([^/].*)$", url)  # git@github.com:OWNER/NAME.git
    parts = urlsplit(url)
    host, path = (scp[1], scp[2]) if scp else (parts.hostname or "", parts.path)
    hosts = {"github.com", (urlsplit(api).hostname or "").removeprefix("api.")}
    names = path.strip("/").removesuffix(".git").split("/")
    if (scp is None and parts.scheme not in ("https", "http", "ssh")) or host.lower() not in hosts:
        return None
    if len(names) != 2 or not all(re.fullmatch(r"[\w.-]+", n) and n.strip(".") for n in names):
        return None
    return "/".join(names)


def _activity_page(url: str, token: Optional[str]) -> tuple[list, Optional[str]]:
    """One page of the activity API: (its entries, the next page's URL from the Link header, if any)."""
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.github+json",
                                                   "X-GitHub-Api-Version": "2022-11-28",
                                                   "User-Agent": "cnn-course-collect"})
    if token:
        request.add_unredirected_header("Authorization", f"Bearer {token}")  # not carried to a redirect's host
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            entries = json.loads(response.read(RESPONSE_BYTES))
            link = response.headers.get("Link", "")
    except urllib.error.HTTPError as exc:
        raise PushRecordError(f"HTTP {exc.code} from {url.split('?')[0]}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PushRecordError(f"{url.split('?')[0]}: {exc}") from None
    if not isinstance(entries, list):
        raise PushRecordError(f"{url.split('?')[0]} did not answer with a list")
    found = re.search(r'<([^>]+)>;\s*rel="next"', link)
    return entries, found[1] if found else None


def _push(entry: object) -> Optional[Push]:
    """An activity entry as a :class:`Push`; None where it moves no ref to a commit (a deletion) or is malformed."""
    if not isinstance(entry, dict):
        return None
    after, when = entry.get("after"), entry.get("timestamp")
    if not (isinstance(after, str) and SHA.match(after) and after.strip("0") and isinstance(when, str)):
        return None
    try:
        at = datetime.fromisoformat(when)
    except ValueError:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return Push(at, after, str(entry.get("ref", "")), str(entry.get("activity_type", "")))


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
