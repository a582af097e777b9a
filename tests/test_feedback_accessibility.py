"""The feedback page is accessible (issue 18): the grader's figures say what they show, status is never colour
alone, and axe-core finds no serious or critical violation in a real headless Chromium."""

from html.parser import HTMLParser

import nbformat
import pytest

from autograder import rubric as rubrics
from autograder.pipeline.accessible import confusion_alt, learning_curves_alt
from autograder.pipeline.report import FIGURE_TAG, feedback_page
from autograder.results import CheckResult, Status
from tests import browser
from tests.notebooks import REFERENCE

HISTORY = {"loss": [2.0, 1.5, 1.2], "val_loss": [1.9, 1.6, 1.4], "accuracy": [0.3, 0.45, 0.55],
           "val_accuracy": [0.32, 0.44, None]}
CONFUSION = [[45 if i == j else 5 for j in range(10)] for i in range(10)]
CONFUSION[3][3], CONFUSION[3][5] = 20, 30  # cats, mostly taken for dogs
ROWS = [
    {"line": 5, "layer": "SeparableConv2D", "name": "sep1", "needed": True, "out": "32x32x32", "out_ok": True,
     "rf": "3", "rf_ok": True},
    {"line": 7, "layer": "MaxPooling2D", "name": "pool1", "needed": True, "out": "16x16x32", "out_ok": True,
     "rf": "5", "rf_ok": False},
    {"line": 9, "layer": "SeparableConv2D", "name": "sep2", "needed": True, "out": None, "out_ok": None, "rf": None,
     "rf_ok": None, "unreadable": "30, 5"},
    {"line": 10, "layer": "BatchNormalization", "name": "bn", "needed": False, "out": None, "out_ok": None,
     "rf": None, "rf_ok": None},
]


class Page(HTMLParser):
    """The images (with their alt text and the cell they sit in), the headings in order and the table headers."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, bool]] = []
        self.headings: list[int] = []
        self.header_cells = 0
        self._figure_depth: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            self._figure_depth.append(f"celltag_{FIGURE_TAG}" in (attrs.get("class") or "")
                                      or any(self._figure_depth))
        if tag == "img":
            self.images.append((attrs.get("alt") or "", any(self._figure_depth)))
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        self.header_cells += tag == "th"

    def handle_endtag(self, tag):
        if tag == "div" and self._figure_depth:
            self._figure_depth.pop()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A real feedback page: 06's reference notebook with a student's own plot, and the grader's three figures."""
    folder = tmp_path_factory.mktemp("feedback")
    nb = nbformat.read(REFERENCE / "06_separable_cifar10" / "06_separable_cifar10.ipynb", as_version=4)
    plot = next(c for c in nb.cells if c.cell_type == "code")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _tiny_png()})]
    executed = folder / "06_separable_cifar10.ipynb"
    nbformat.write(nb, executed)
    results = [
        CheckResult("06", "annotations", "Annotations", 1.0, 3.0, Status.FAIL, "1 of 3 layers annotated correctly",
                    detail={"layers": ROWS, "reveal": False}),
        CheckResult("06", "accuracy", "Accuracy", 3.0, 3.0, Status.PASS, "0.51",
                    detail={"history": HISTORY, "confusion": CONFUSION, "dataset": "cifar10", "model": "model"}),
        CheckResult("06", "beats_base", "Base", 0.0, 0.0, Status.NOT_JUDGED, "not judged in smoke"),
    ]
    assert feedback_page(executed, results, rubrics.find("06")) == []
    return executed.with_suffix(".html")


def _tiny_png() -> str:
    import base64
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def test_alt_texts_say_what_the_figures_show():
    assert learning_curves_alt(HISTORY, "model") == (
        "Learning curves of model over 3 epochs; final values: training loss 1.200, validation loss 1.400, "
        "training accuracy 0.550, validation accuracy 0.440.")  # the last value drawn, not a missing one
    labels = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    text = confusion_alt(CONFUSION, "model", labels)
    assert "accuracy 0.472" in text and "on 900 images" in text
    assert "Worst class: cat, 20 of 90 right (0.222), most often predicted as dog (30 images)." in text


def test_the_page_describes_its_figures_in_order_and_in_words(page):
    parsed = Page()
    parsed.feed(page.read_text())
    grader = [alt for alt, ours in parsed.images if ours]
    assert len(grader) == 2 and grader[0].startswith("Learning curves of model over 3 epochs")
    assert "Worst class: cat" in grader[1]
    assert all(alt for alt, _ in parsed.images)  # the student's own plot keeps nbconvert's placeholder
    levels = parsed.headings
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels  # no level skipped
    text = page.read_text()
    assert "1 right, 2 wrong, of 3 layers that need an annotation" in text
    assert "RF right?" in text and parsed.header_cells >= 4 + 6  # results table and layer table: header cells
    assert "✗\u00a0fail" in text and "✔ right" in text and "✘ wrong" in text  # status in words, not colour
    assert "<title>Feedback: 06" in text


def test_axe_finds_no_serious_violation_in_a_headless_chromium(page, tmp_path):
    rendered = browser.render(page, tmp_path / "feedback.png")
    assert not rendered.serious(), rendered.serious()
    assert rendered.passes > 10  # axe ran its rules on a rendered page
    assert rendered.screenshot.stat().st_size > 50_000
    assert "1 right, 2 wrong, of 3 layers that need an annotation" in rendered.text
    browser.keep(rendered.screenshot, browser.KEEP_ONE)  # to look at it: a path to copy the screenshot to
