"""The package's structure: every import points down the layers, and no module imports itself back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer or those below, never above.
LAYERS = (
    ("coursework",),  # the student API: imports nothing of the grader
    ("autograder", "autograder.errors", "autograder.results", "autograder.paths", "autograder.workers"),
    ("autograder.rubric", "autograder.modelspec"),
    ("autograder.sandbox",),
    ("autograder.studentcode",),
    ("autograder.scoring",),  # the scoring room: the context checks read through, safe readers, retraining
    ("autograder.checks",),
    ("autograder.grading", "autograder.progress", "autograder.preflight"),
    ("autograder.pipeline",),  # one notebook: stage, execute, score, report
    ("autograder.classrun", "autograder.course", "autograder.similarity"),  # a class; instructor tools; copies
    ("autograder.cli", "autograder.pytest_plugin", "autograder.__main__"),
)


def modules() -> dict[str, Path]:
    found = {}
    for package in ("autograder", "coursework"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, at module level or inside functions alike."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:  # a submodule, else the module
            names |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                      for a in node.names}
    return {n for n in names if n in known}


def layer(module: str) -> int:
    best = max((prefix for level in LAYERS for prefix in level if module == prefix or module.startswith(prefix + ".")),
               key=len)
    return next(i for i, level in enumerate(LAYERS) if best in level)


def test_every_module_has_a_layer():
    for module in modules():
        assert layer(module) >= 0


def test_no_import_points_up():
    known = modules()
    upward = [f"{m} (layer {layer(m)}) -> {n} (layer {layer(n)})"
              for m, path in known.items() for n in imports(path, known) if layer(n) > layer(m)]
    assert upward == []


def test_no_import_cycle():
    known = modules()
    graph = {m: {n for n in imports(path, known) if n != m and not m.startswith(n + ".")} for m, path in known.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


MAX_FUNCTION_LINES = 60


def test_every_function_fits_on_a_screen():
    """No function of the grader or the student API is longer than MAX_FUNCTION_LINES lines."""
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, long
