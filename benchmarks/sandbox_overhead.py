"""What the sandbox costs per notebook: kernel start-up and a harness run, with and without bubblewrap.

Runs a one-cell notebook through the real execute stage, and the generator
harness on a two-line definition, alternating sandboxed and unsandboxed runs,
and prints the median wall time of each and their ratio. Then the import of
matplotlib.pyplot (which Keras makes in every kernel and harness) in the sandbox,
with the grader's font list bound (as the sandbox does) and in a bare fresh home.
Usage: python benchmarks/sandbox_overhead.py [--repeat N]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import rubric as rubrics  # noqa: E402
from autograder.pipeline.execute import execute  # noqa: E402
from autograder.sandbox import claim_slot  # noqa: E402
from autograder.sandbox import MATPLOTLIB_DIR, bwrap_problem, hand_over, kernel_environment, sandbox_for  # noqa: E402
from autograder.studentcode.hidden_cases import run_harness  # noqa: E402

LIMITS = rubrics.find("00").profiles["smoke"].limits


def kernel_run(root: Path, sandboxed: bool) -> float:
    folder = Path(tempfile.mkdtemp(dir=root))
    notebook = folder / "n.ipynb"
    cells = [nbformat.v4.new_code_cell("OUTPUT_DIR = None", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("import coursework\nprint('ok')")]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
              "language_info": {"name": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), notebook)
    box = sandbox_for(LIMITS, [folder], None, claim_slot()) if sandboxed else None
    if box:
        hand_over(folder, slot=box.slot)
    start = time.perf_counter()
    run = execute(notebook, folder / "out.ipynb", {"OUTPUT_DIR": str(folder)}, folder, LIMITS, box)
    elapsed = time.perf_counter() - start
    assert run.ok, run.message
    return elapsed


def harness_run(root: Path, sandboxed: bool) -> float:
    notebook = Path(tempfile.mkdtemp(dir=root)) / "h.ipynb"
    source = "def batches(items, size):\n    while True:\n        yield items[:size]\n"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), notebook)
    box = sandbox_for(LIMITS, [], None, claim_slot()) if sandboxed else None
    start = time.perf_counter()
    run_harness(notebook, "generator", {"function": "batches", "cases": [[[1, 2, 3], 2, 3]]},
                LIMITS.replace({"harness_timeout": 60}), box)
    return time.perf_counter() - start


def pyplot_import(font_list: bool) -> float:
    box = sandbox_for(LIMITS, [], None, claim_slot())
    if not font_list:
        box = dataclasses.replace(box, home_readable={k: v for k, v in box.home_readable.items()
                                                      if not k.startswith(MATPLOTLIB_DIR)})
    command = box.command([sys.executable, "-c", "import matplotlib.pyplot"], Path("/tmp"))
    start = time.perf_counter()
    subprocess.run(command, env=box.environment(kernel_environment()), check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if bwrap_problem():
        sys.exit(f"no sandbox here: {bwrap_problem()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"sandbox overhead, median of {args.repeat} alternating runs (s)")
        print(f"{'what':<40} {'plain':>8} {'sandbox':>8} {'ratio':>7}")
        for name, measure in (("one-cell notebook: kernel start to end", kernel_run),
                              ("harness: lift, run, read back", harness_run)):
            measure(root, True), measure(root, False)  # warm the file cache for both
            plain, boxed = [], []
            for _ in range(args.repeat):
                boxed.append(measure(root, True))
                plain.append(measure(root, False))
            p, b = statistics.median(plain), statistics.median(boxed)
            print(f"{name:<40} {p:8.2f} {b:8.2f} {b / p:7.2f}")
        bare, bound = [], []
        for _ in range(args.repeat):
            bare.append(pyplot_import(False))
            bound.append(pyplot_import(True))
        print(f"\nimport matplotlib.pyplot in the sandbox (s): fresh home {statistics.median(bare):.2f}, "
              f"the grader's font list bound {statistics.median(bound):.2f}")


if __name__ == "__main__":
    main()
