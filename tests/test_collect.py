"""`python -m autograder collect`: local bare repositories over file:// URLs, one commit after the deadline."""

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

DEADLINE = "2025-03-01T23:59:00+00:00"


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
        (work / "00_warmup").mkdir(exist_ok=True)
        (work / "00_warmup" / "00_warmup.ipynb").write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", text, when=when)
    if commits:
        git(work, "push", "-q", "origin", "main")
    return bare.as_uri()


def collect(roster: Path, out: Path):
    return subprocess.run([sys.executable, "-m", "autograder", "collect", str(roster), "--deadline", DEADLINE,
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_collect_takes_the_last_commit_before_the_deadline(tmp_path):
    repos = tmp_path / "remote"
    repos.mkdir()
    ada = student_repository(repos, "cnn-ada", [("on time", "2025-03-01T10:00:00+00:00"),
                                                ("too late", "2025-03-02T09:00:00+00:00")])
    bob = student_repository(repos, "cnn-bob", [])  # accepted the assignment, never pushed
    roster = tmp_path / "grades.csv"  # Classroom's grades export names each student's repository
    roster.write_text("roster_identifier,github_username,student_repository_url\n"
                      f"ada,ada-gh,{ada}\nbob,bob-gh,{bob}\ncy,cy-gh,{(repos / 'cnn-cy.git').as_uri()}\n")
    out = tmp_path / "submitted"

    result = collect(roster, out)
    assert result.returncode == 0, result.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(out / "collected.csv"))}
    assert (rows["ada"]["status"], rows["bob"]["status"], rows["cy"]["status"]) == ("collected", "empty", "missing")
    on_time = git(repos / "cnn-ada-work", "rev-parse", "HEAD~1")
    assert rows["ada"]["commit"] == on_time
    assert (out / "ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "on time"
    assert (out / "ada" / "00_warmup" / "timestamp.txt").read_text().startswith("2025-03-01 10:00:00")
    assert not (out / "ada" / ".git").exists() and not (out / "bob").exists()
    assert "cannot fetch" in rows["cy"]["message"]

    # A later run updates the kept clone (here after a force-push that rewrote the history before the deadline).
    work = repos / "cnn-ada-work"
    git(work, "reset", "-q", "--hard", "HEAD~1")
    (work / "00_warmup" / "00_warmup.ipynb").write_text("amended")
    git(work, "commit", "-q", "-a", "-m", "amended", when="2025-03-01T11:00:00+00:00")
    git(work, "push", "-q", "--force", "origin", "main")
    assert collect(roster, out).returncode == 0  # the same roster: the kept clone is fetched again
    assert (out / "ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "amended"
    list_roster = tmp_path / "repos.txt"  # a plain list of URLs: the folder is the repository's name
    list_roster.write_text(f"# class of 2025\n{ada}\n")
    result = collect(list_roster, out)
    assert result.returncode == 0, result.stderr
    assert (out / "cnn-ada" / "00_warmup" / "00_warmup.ipynb").read_text() == "amended"
