"""The course's environment variables are spelled once, in coursework/environment.py: every module of the grader
and the coursework that can import it reads the constant (docstrings and comments may name the variable)."""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.paths import ROOT
from coursework import environment

NAMES = (environment.ENV_DIR, environment.ENV_OFFLINE, environment.ENV_FETCH)
HOME = ROOT / "coursework" / "environment.py"
FIRST_PARTY = ("autograder", "coursework")


def imports_first_party(tree: ast.Module) -> bool:
    """Whether the module imports the grader or the coursework (a standalone, standard-library-only script, such as
    the GPU kit's run.py, runs before either is installed and must spell the variables itself)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in FIRST_PARTY for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in FIRST_PARTY):
            return True
    return False


def spelled(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of each use of a variable's literal name: a string of one line (a key, a message, a help text)
    or a keyword argument. Docstrings and documents of several lines (a README a command writes) may name it."""
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    uses = [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings and "\n" not in n.value.strip() and any(name in n.value for name in NAMES)]
    uses += [(n.value.lineno, n.arg) for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg in NAMES]
    return sorted(uses)


def test_the_variables_are_spelled_only_in_their_module():
    found = {}
    for path in sorted([*(ROOT / "autograder").rglob("*.py"), *(ROOT / "coursework").rglob("*.py")]):
        tree = ast.parse(path.read_text(), filename=str(path))
        if path != HOME and imports_first_party(tree) and spelled(tree):
            found[str(path.relative_to(ROOT))] = spelled(tree)
    assert found == {}


def test_the_check_finds_a_spelled_variable():
    tree = ast.parse('"""Reads $CNN_COURSE_DATA."""\nimport os\nfrom coursework import datasets\n'
                     'x = os.environ.get("CNN_COURSE_DATA")\ny = dict(CNN_COURSE_OFFLINE="1")\n')
    assert imports_first_party(tree) and spelled(tree) == [(4, "CNN_COURSE_DATA"), (5, "CNN_COURSE_OFFLINE")]
    assert not imports_first_party(ast.parse("import os\n"))
    assert Path(environment.__file__).resolve() == HOME
