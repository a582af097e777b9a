"""The feedback page never runs a student's JavaScript, and stays readable."""

from html.parser import HTMLParser

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder import rubric as rubrics
from autograder.pipeline.report import feedback_page
from autograder.results import CheckResult, Status

PAYLOAD = "stealCookies"


class Scripts(HTMLParser):
    """Every script body and every event-handler or javascript: attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.active: list[str] = []
        self.tags: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.active.append(f"{tag} {name}={value}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.active.append(data)


def hostile_notebook():
    html = (f"<script>{PAYLOAD}('html')</script><b>bold words</b>"
            f"<img src=x onerror=\"{PAYLOAD}('img')\"><a href=\"javascript:{PAYLOAD}('a')\">link</a>"
            "<table><tr><th>layer</th><td>conv1</td></tr></table>")
    outputs = [
        new_output("display_data", {"text/html": html, "text/plain": "<IPython.core.display.HTML object>"}),
        new_output("display_data", {"application/javascript": f"{PAYLOAD}('js')"}),
        new_output("display_data", {"text/markdown": f"<script>{PAYLOAD}('md-output')</script>**strong**"}),
        new_output("stream", name="stdout", text="Epoch 1/10 accuracy 0.91\n"),
    ]
    nb = new_notebook(cells=[
        new_markdown_cell(f"## My notes\n<script>{PAYLOAD}('markdown')</script>"),
        new_code_cell("display(HTML(...))", outputs=outputs, execution_count=1),
    ])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nb


def test_student_javascript_never_reaches_a_script_and_results_stay_readable(tmp_path):
    executed = tmp_path / "00_warmup.ipynb"
    nbformat.write(hostile_notebook(), executed)
    rubric = rubrics.find("00")
    results = [CheckResult("00", "params_by_hand", "hand count", 0.0, 1.0, Status.FAIL, "you wrote 1,234; it has 650")]
    assert feedback_page(executed, results, rubric) == []
    page = executed.with_suffix(".html").read_text()

    parser = Scripts()
    parser.feed(page)
    assert not [s for s in parser.active if PAYLOAD in s]
    assert "widget-state" not in page
    assert "Feedback: 00" in page and "you wrote 1,234; it has 650" in page  # the results table
    assert "<b>bold words</b>" in page and "<td>conv1</td>" in page and "<strong>strong</strong>" in page
    assert "Epoch 1/10 accuracy 0.91" in page
    assert "params_by_hand" in page and "table" in parser.tags
