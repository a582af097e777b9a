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


def test_no_script_url_survives_markdown_cells_outputs_or_the_results_table(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell(f"[my notes](javascript:{PAYLOAD}('md')) and [data](data:text/html;base64,PHNjcmlwdD4=) "
                          f"and <a href=\"vbscript:{PAYLOAD}\">vb</a> and [keras](https://keras.io)"),
        new_code_cell("display(Markdown(...))", execution_count=1, outputs=[
            new_output("display_data", {"text/markdown": f"[out](javascript:{PAYLOAD}('md-output'))",
                                        "text/plain": "<Markdown>"}),
            new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]),
    ])
    executed = tmp_path / "00_warmup.ipynb"
    nbformat.write(nb, executed)
    skipped = f"[notes](javascript:{PAYLOAD}('name')) (a symlink)"  # a file name, in the grader's own table
    results = [CheckResult("00", "locked_cells", "locked", 0.0, 0.0, Status.PASS,
                           f"every locked cell is as released; not staged: {skipped}")]
    assert feedback_page(executed, results, rubrics.find("00")) == []
    page = executed.with_suffix(".html").read_text()

    links = Links()
    links.feed(page)
    assert not [v for v in links.urls if v.replace(" ", "").lower().startswith(("javascript:", "vbscript:", "data:t"))]
    assert "https://keras.io" in links.urls and any(v.startswith("data:image/png") for v in links.urls)
    assert "[notes](javascript:" in page  # the file name is shown, as text
    assert ">my notes</a>" not in page or "href" not in page.split(">my notes</a>")[0].rsplit("<a", 1)[-1]


class Links(HTMLParser):
    """Every URL-valued attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]
