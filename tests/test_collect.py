"""`python -m autograder collect`: local bare repositories over file:// URLs (GitHub's URLs rewritten to them by
git's ``insteadOf``), a clock the tests set, and a local stand-in of GitHub's repository activity API."""

import contextlib
import csv
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from autograder.course import collect as collect_module
from autograder.course.collect import Student
from autograder.paths import ROOT

DEADLINE = "2025-03-01T23:59:00+00:00"
D = datetime.fromisoformat(DEADLINE)
FUTURE = "2100-01-01T00:00:00+00:00"  # a deadline every fetch today comes before


def git(cwd: Path, *args: str, when: str = "2025-02-20T12:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "s",
           "GIT_AUTHOR_EMAIL": "s@example.org", "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def student_repository(root: Path, name: str, commits: list[tuple[str, str]]) -> str:
    """A bare repository ``name.git`` with one commit of 00_warmup per (text, date); its file:// URL."""
    bare = root / f"{name}.git"
    git(root, "init", "--bare", "-q", "-b", "main", str(bare))
    work = root / f"{name}-work"
    git(root, "clone", "-q", str(bare), str(work))
    for text, when in commits:
        commit(work, text, when)
    if commits:
        git(work, "push", "-q", "origin", "main")
    return bare.as_uri()


def commit(work: Path, text: str, when: str) -> str:
    """Commit 00_warmup/00_warmup.ipynb holding ``text`` with both git dates set to ``when``; its sha."""
    (work / "00_warmup").mkdir(exist_ok=True)
    (work / "00_warmup" / "00_warmup.ipynb").write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", text, when=when)
    return git(work, "rev-parse", "HEAD")


def collect(roster: Path, out: Path, deadline: str = DEADLINE):
    return subprocess.run([sys.executable, "-m", "autograder", "collect", str(roster), "--deadline", deadline,
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def record(out: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader(open(out / "collected.csv"))}


def stamp(out: Path, student: str) -> str:
    return (out / student / "00_warmup" / "timestamp.txt").read_text()


@contextlib.contextmanager
def clock(monkeypatch, moment: datetime):
    """collect's clock (each fetch's time) set to ``moment`` for the block."""
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz) if tz else moment

    with monkeypatch.context() as patch:
        patch.setattr(collect_module, "datetime", Clock)
        yield


def github_urls(monkeypatch, repos: Path) -> None:
    """https://github.com/course/NAME fetched from ``repos/NAME`` (git's url.<base>.insteadOf, by environment)."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{repos.as_uri()}/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/course/")


@contextlib.contextmanager
def activity_api(records: dict[str, list[dict]]):
    """A stand-in of GitHub's ``GET /repos/OWNER/NAME/activity`` on 127.0.0.1 serving ``records`` (newest first,
    one entry a page, ``Link: <...>; rel="next"`` to the next; 404 for another repository); yields (its base URL,
    the Authorization headers it received)."""
    received: list = []

    class Activity(BaseHTTPRequestHandler):
        def do_GET(self):
            received.append(self.headers.get("Authorization"))
            path, _, query = self.path.partition("?")
            repository = path.removeprefix("/repos/").removesuffix("/activity")
            if not path.endswith("/activity") or repository not in records:
                self.send_error(404)
                return
            entries = records[repository]
            page = int(query.split("after=")[1]) if "after=" in query else 0
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if page + 1 < len(entries):
                self.send_header("Link", f'<{base}{path}?per_page=100&after={page + 1}>; rel="next"')
            self.end_headers()
            self.wfile.write(json.dumps(entries[page:page + 1]).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Activity)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, received
    finally:
        server.shutdown()
        server.server_close()


def push(after: str, at: datetime, kind: str = "push") -> dict:
    """One entry of GitHub's activity, as the API lists it."""
    return {"id": 1, "node_id": "x", "before": "0" * 40, "after": after, "ref": "refs/heads/main",
            "timestamp": at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"), "activity_type": kind,
            "actor": {"login": "student"}}


def test_collect_statuses_roster_forms_and_a_kept_clone(tmp_path):
    repos = tmp_path / "remote"
    repos.mkdir()
    ada = student_repository(repos, "cnn-ada", [("first", "2025-03-01T10:00:00+00:00"),
                                                ("second", "2025-03-02T09:00:00+00:00")])
    bob = student_repository(repos, "cnn-bob", [])  # accepted the assignment, never pushed
    roster = tmp_path / "grades.csv"  # Classroom's grades export names each student's repository
    roster.write_text("roster_identifier,github_username,student_repository_url\n"
                      f"ada,ada-gh,{ada}\nbob,bob-gh,{bob}\ncy,cy-gh,{(repos / 'cnn-cy.git').as_uri()}\n")
    out = tmp_path / "submitted"

    result = collect(roster, out, FUTURE)  # every commit is seen by a fetch before this deadline: on time
    assert result.returncode == 0, result.stderr
    rows = record(out)
    assert (rows["ada"]["status"], rows["bob"]["status"], rows["cy"]["status"]) == ("collected", "empty", "missing")
    assert rows["ada"]["commit"] == git(repos / "cnn-ada-work", "rev-parse", "HEAD")
    assert (out / "ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "second"
    seen = datetime.fromisoformat(rows["ada"]["seen_at"])  # the fetch's time, never the commit's date
    assert rows["ada"]["submitted_at"] == rows["ada"]["seen_at"] and seen.year >= 2026
    assert stamp(out, "ada") == seen.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    assert not (out / "ada" / ".git").exists() and not (out / "bob").exists()
    assert "cannot fetch" in rows["cy"]["message"]

    # A later run updates the kept clone (here after a force-push that rewrote the history).
    work = repos / "cnn-ada-work"
    git(work, "reset", "-q", "--hard", "HEAD~1")
    (work / "00_warmup" / "00_warmup.ipynb").write_text("amended")
    git(work, "commit", "-q", "-a", "-m", "amended", when="2025-03-01T11:00:00+00:00")
    git(work, "push", "-q", "--force", "origin", "main")
    assert collect(roster, out, FUTURE).returncode == 0  # the same roster: the kept clone is fetched again
    assert (out / "ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "amended"
    list_roster = tmp_path / "repos.txt"  # a plain list of URLs: the folder is the repository's name
    list_roster.write_text(f"# class of 2025\n{ada}\n")
    result = collect(list_roster, out, FUTURE)
    assert result.returncode == 0, result.stderr
    assert (out / "cnn-ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "amended"


def test_a_backdated_commit_pushed_after_the_deadline_is_late_by_its_first_sighting(tmp_path, monkeypatch):
    """Attack: a commit dated before the deadline, pushed after it. Collecting before the deadline and again
    after it must not take it as on time: only a fetch at or before the deadline vouches for a commit."""
    repos = tmp_path / "remote"
    repos.mkdir()
    students = [Student("ada", student_repository(repos, "ada", [("on time", "2025-02-28T10:00:00+00:00")])),
                Student("bob", student_repository(repos, "bob", []))]
    out = tmp_path / "submitted"
    with clock(monkeypatch, D - timedelta(hours=1)):
        before = {r.student: r for r in collect_module.collect(students, D, out)}
    assert (before["ada"].status, before["bob"].status) == ("collected", "empty")
    assert stamp(out, "ada").startswith("2025-03-01 22:59:00")  # seen at 22:59 (the fetch), not dated 02-28

    on_time = before["ada"].commit
    backdated = commit(repos / "ada-work", "backdated", "2025-03-01T12:00:00+00:00")
    git(repos / "ada-work", "push", "-q", "origin", "main")
    bob_late = commit(repos / "bob-work", "backdated", "2025-02-20T12:00:00+00:00")
    git(repos / "bob-work", "push", "-q", "origin", "main")
    with clock(monkeypatch, D + timedelta(hours=1)):
        after = {r.student: r for r in collect_module.collect(students, D, out)}

    assert backdated != on_time
    assert (after["ada"].status, after["ada"].commit) == ("collected", on_time)  # what the deadline's fetch saw
    assert (out / "ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "on time"
    assert stamp(out, "ada").startswith("2025-03-01 22:59:00")
    assert (after["bob"].status, after["bob"].commit) == ("late", bob_late)  # nothing on time: late by the fetch
    assert datetime.fromisoformat(after["bob"].submitted_at) == D + timedelta(hours=1)
    assert stamp(out, "bob").startswith("2025-03-02 00:59:00")
    assert after["bob"].committed_at.startswith("2025-02-20")  # the student's claim, recorded, never trusted
    assert record(out)["bob"]["status"] == "late"


def test_the_push_record_dates_each_commit_by_the_push_that_brought_it(tmp_path, monkeypatch):
    """GitHub's activity (each push's time and pushed commit) dates a commit even without a fetch before the
    deadline; a repository whose record cannot be read falls back to the first fetch that saw the commit."""
    repos = tmp_path / "remote"
    repos.mkdir()
    github_urls(monkeypatch, repos)
    student_repository(repos, "cnn-ada", [])
    first = commit(repos / "cnn-ada-work", "pushed in time", "2025-02-28T10:00:00+00:00")
    git(repos / "cnn-ada-work", "push", "-q", "origin", "main")
    second = commit(repos / "cnn-ada-work", "pushed late", "2025-03-01T12:00:00+00:00")  # backdated
    git(repos / "cnn-ada-work", "push", "-q", "origin", "main")
    student_repository(repos, "cnn-bob", [("pushed half an hour late", "2025-02-25T10:00:00+00:00")])
    bob = git(repos / "cnn-bob-work", "rev-parse", "HEAD")
    student_repository(repos, "cnn-cy", [("no record", "2025-02-25T10:00:00+00:00")])
    records = {"course/cnn-ada": [push(second, D + timedelta(hours=2)), push(first, D - timedelta(hours=3))],
               "course/cnn-bob": [push("0" * 40, D, "branch_deletion"),
                                  push(bob, D + timedelta(minutes=30), "force_push")]}
    students = [Student(n, f"https://github.com/course/cnn-{n}.git") for n in ("ada", "bob", "cy")]
    out = tmp_path / "submitted"
    with activity_api(records) as (api, received), clock(monkeypatch, D + timedelta(hours=5)):
        monkeypatch.setenv("GITHUB_API_URL", api)
        monkeypatch.setenv("no_proxy", "127.0.0.1")  # the stand-in is here, whatever proxy the machine names
        monkeypatch.setenv("GITHUB_TOKEN", "course-token")
        rows = {r.student: r for r in collect_module.collect(students, D, out)}

    assert (rows["ada"].status, rows["ada"].commit) == ("collected", first)
    assert datetime.fromisoformat(rows["ada"].pushed_at) == D - timedelta(hours=3)
    assert stamp(out, "ada").startswith("2025-03-01 20:59:00")  # the push's time, not the fetch's
    assert (rows["bob"].status, rows["bob"].commit) == ("late", bob)
    assert stamp(out, "bob").startswith("2025-03-02 00:29:00")
    assert rows["cy"].status == "late" and "no push record" in rows["cy"].message
    assert stamp(out, "cy").startswith("2025-03-02 04:59:00")  # its first sighting
    assert received and set(received) == {"Bearer course-token"}


def test_repository_names_on_github():
    github_repository = collect_module.github_repository
    assert github_repository("https://github.com/ORG/cnn-ada.git") == "ORG/cnn-ada"
    assert github_repository("git@github.com:ORG/cnn-ada.git") == "ORG/cnn-ada"
    assert github_repository("https://ghe.example.edu/ORG/cnn-ada", "https://ghe.example.edu/api/v3") == "ORG/cnn-ada"
    assert github_repository("https://gitlab.com/ORG/cnn-ada.git") is None
    assert github_repository("file:///srv/cnn-ada.git") is None
    assert github_repository("https://github.com/ORG/../x") is None


def test_a_committed_timestamp_is_replaced_and_a_broken_repository_costs_only_its_row(tmp_path):
    """Attacks: a committed timestamp.txt that is a symlink (collect wrote through it), or a folder (collect
    crashed for the whole class); and a repository that cannot be exported stops no other."""
    repos = tmp_path / "remote"
    repos.mkdir()
    urls = {}
    for name in ("ada", "bob", "cy", "dan"):
        student_repository(repos, name, [])
        work = repos / f"{name}-work"
        (work / "00_warmup").mkdir()
        (work / "00_warmup" / "00_warmup.ipynb").write_text(f"{name}'s notebook")
        urls[name] = (repos / f"{name}.git").as_uri()
    (repos / "ada-work" / "00_warmup" / "timestamp.txt").symlink_to("00_warmup.ipynb")  # written through
    (repos / "bob-work" / "00_warmup" / "timestamp.txt").mkdir()
    (repos / "bob-work" / "00_warmup" / "timestamp.txt" / "inside").write_text("x")
    (repos / "cy-work" / "data").symlink_to("/etc")  # an archive member no extraction accepts
    (repos / "dan-work" / "00_warmup" / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    for name in urls:
        git(repos / f"{name}-work", "add", "-A")
        git(repos / f"{name}-work", "commit", "-q", "-m", "work")
        git(repos / f"{name}-work", "push", "-q", "origin", "main")
    roster = tmp_path / "repos.txt"
    roster.write_text("".join(f"{u}\n" for u in urls.values()))
    out = tmp_path / "submitted"

    result = collect(roster, out, FUTURE)
    assert result.returncode == 0, result.stderr
    rows = record(out)
    assert {n: rows[n]["status"] for n in urls} == {"ada": "collected", "bob": "collected", "cy": "error",
                                                    "dan": "collected"}
    assert rows["cy"]["message"] and not (out / "cy").exists()
    for name in ("ada", "bob", "dan"):
        written = out / name / "00_warmup" / "timestamp.txt"
        assert written.is_file() and not written.is_symlink(), name
        submitted = datetime.fromisoformat(rows[name]["submitted_at"])
        assert written.read_text() == submitted.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), name
        assert (out / name / "00_warmup" / "00_warmup.ipynb").read_text() == f"{name}'s notebook"
