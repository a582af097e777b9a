"""Pages opened as a person opens them: a real headless Chromium driven by playwright-core, axe-core run on the
rendered page, a full-page screenshot, and the page's text as the browser lays it out (``innerText``: a table row
reads as its cells separated by tabs). The work is done by ``.ci/axe.cjs``; this module runs it from tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from autograder.paths import ROOT
CHROMIUM = Path(os.environ.get("AUTOGRADER_CHROMIUM", "/usr/bin/chromium"))
TOOLS = ROOT / ".tools" / "node_modules"
SCRIPT = ROOT / ".ci" / "axe.cjs"
PNG = b"\x89PNG\r\n\x1a\n"
KEEP_ONE = "AUTOGRADER_A11Y_SCREENSHOT"  # a file to copy the feedback page's accessibility screenshot to
KEEP_ALL = "AUTOGRADER_SCREENSHOTS"  # a folder to copy every screenshot these tests take into


def missing_tools() -> Optional[str]:
    """Why the browser checks cannot run here (what to install), or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: `make a11y-tools` installs Debian's chromium (root with apt)"
    if not (TOOLS / "axe-core" / "package.json").exists() or not (TOOLS / "playwright-core").exists():
        return "axe-core and playwright-core are not in .tools/: `make a11y-tools` installs them from npm"
    if shutil.which("node") is None:
        return "no node: `make a11y-tools` installs it (root with apt)"
    return None


@dataclass(frozen=True)
class Rendered:
    """What the browser made of a page: axe's verdict, the text a reader sees, the screenshot's path."""

    violations: list[dict[str, Any]]
    passes: int
    text: str
    screenshot: Path

    def serious(self) -> list[str]:
        """axe's serious and critical violations, one line each."""
        return [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
                for v in self.violations if v["impact"] in ("serious", "critical")]


def render(page: Path, screenshot: Path) -> Rendered:
    """Open ``page`` offline in headless Chromium, run axe-core on it and take a full-page screenshot (skips the
    test, saying what to install, where the tools are missing). The screenshot is kept in $AUTOGRADER_SCREENSHOTS
    too, when set."""
    problem = missing_tools()
    if problem:
        pytest.skip(problem)
    run = subprocess.run(["node", str(SCRIPT), str(page), str(screenshot), str(CHROMIUM)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "NODE_PATH": str(TOOLS)})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert screenshot.read_bytes()[:8] == PNG
    keep(screenshot)
    return Rendered(result["violations"], result["passes"], result["text"], screenshot)


def keep(screenshot: Path, variable: str = KEEP_ALL) -> None:
    """Copy ``screenshot`` to where $``variable`` says: into the folder $AUTOGRADER_SCREENSHOTS names, or to
    the file $AUTOGRADER_A11Y_SCREENSHOT names. Nothing when it is unset."""
    target = os.environ.get(variable)
    if not target:
        return
    if variable == KEEP_ALL:
        Path(target).mkdir(parents=True, exist_ok=True)
        target = str(Path(target) / screenshot.name)
    shutil.copy(screenshot, target)
