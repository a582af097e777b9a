"""Run a student's functions on the grader's hidden cases, in a process of their own.

Some checks must call what the student wrote (a generator, a data pipeline)
on inputs the student never saw. The definitions lifted from the staged
notebook (:mod:`autograder.studentcode.lift`) are written to a module and
exercised by a harness of the grader's (:mod:`autograder.studentcode.harnesses`)
in a fresh Python process with the kernel's scrubbed environment, a temporary
working directory and a timeout. Only JSON comes back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from autograder.errors import ArtifactError, CheckTimeout, MissingArtifact
from autograder.studentcode.lift import student_definitions


def run_harness(notebook: Path, harness: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Facts a harness gathered by calling the student's definitions; raises on crash or timeout."""
    from autograder.pipeline.execute import kernel_environment

    if notebook is None or not Path(notebook).is_file():
        raise MissingArtifact("the staged notebook is not available to this check")
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        defs = Path(tmp) / "student_definitions.py"
        defs.write_text(student_definitions(Path(notebook)))
        command = [sys.executable, "-m", "autograder.studentcode.harnesses", harness, str(defs), json.dumps(args)]
        try:
            proc = subprocess.run(command, cwd=tmp, env=kernel_environment(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckTimeout(f"your code ran past the {timeout:.0f} s this check allows") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-3:]
        raise ArtifactError("running your definitions failed: " + (" | ".join(tail) or f"exit code {proc.returncode}"))
    return json.loads(lines[-1])
