"""report.html: valid, self-contained, with the summary table and embedded figures."""
import base64
import io
import sys
from html.parser import HTMLParser

import pytest

from striate.viz import write_report

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(HTMLParser):
    """Checks that every element is closed in order, and collects what the tests look at."""

    def __init__(self, text):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []
        self.ids, self.links, self.images, self.rows, self._row = [], [], [], [], None
        self.doctype = None
        self.feed(text)
        self.close()

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a":
            self.links.append(a.get("href"))
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._row is not None and self.stack and self.stack[-1] in ("td", "th"):
            self._row.append(data)


@pytest.fixture(scope="module")
def page(tiny_run):
    test = tiny_run["test"]
    path = write_report(tiny_run["dir"], tiny_run["model"], test.images[:300], test.labels[:300],
                        meta=tiny_run["meta"])
    assert path == str(tiny_run["dir"] / "report.html")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text, Page(text)


def test_report_is_well_formed_html(page):
    text, p = page
    assert p.doctype.lower() == "doctype html"
    assert p.errors == [] and p.stack == []
    for tag in ("html", "head", "body", "title", "style", "main"):
        assert p.tags.count(tag) == 1, tag
    assert '<meta charset="utf-8">' in text and 'name="viewport"' in text


def test_report_has_every_section_and_the_navigation_points_to_them(page):
    _, p = page
    sections = ["settings", "summary", "curves", "confusion", "predictions", "filters",
                "features"]
    assert [i for i in p.ids if i in sections] == sections
    assert p.links == ["#" + s for s in sections]


def test_report_summary_table_lists_lenet5_layers(page):
    text, p = page
    assert ["features.3", "Conv2d", "16x10x10", "2,416", "240,000", "14", "2"] in p.rows
    assert ["classifier.5", "Linear", "10", "850", "840", "32", "20"] in p.rows
    assert "61,706 parameters" in text


def test_report_shows_command_settings_and_epochs(page):
    text, p = page
    assert "striate train lenet5 --epochs 1" in text
    assert ["model_kwargs", '{"in_channels": 1, "num_classes": 10}'] in p.rows
    assert any(r[:1] == ["1"] and len(r) == 7 for r in p.rows)  # the per-epoch table


def test_report_is_self_contained_with_embedded_pngs(page):
    text, p = page
    assert "http://" not in text and "https://" not in text
    assert "script" not in p.tags and "link" not in p.tags
    # curves, confusion, correct, wrong, filters, 4 feature maps, Grad-CAM, saliency
    assert len(p.images) == 11
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.size[0] >= 200 and im.size[1] >= 150


def test_report_without_a_model_reads_the_run_folder(tiny_run, tmp_path):
    out = write_report(tiny_run["dir"], path=tmp_path / "plain.html")
    with open(out, encoding="utf-8") as f:
        p = Page(f.read())
    assert p.errors == []
    assert [i for i in p.ids] == ["settings", "curves"]  # meta and history from the folder
    assert ["model", "lenet5"] in p.rows
    assert len(p.images) == 1


def test_report_of_a_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        write_report(tmp_path / "nope")


def test_report_without_matplotlib_keeps_the_tables_and_says_what_to_install(
        tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    test = tiny_run["test"]
    out = write_report(tiny_run["dir"], tiny_run["model"], test.images[:50], test.labels[:50],
                       meta=tiny_run["meta"], path=tmp_path / "nofig.html")
    with open(out, encoding="utf-8") as f:
        text = f.read()
    p = Page(text)
    assert p.errors == [] and p.images == []
    assert "<code>pip install 'striate[plot]'</code>" in text
    assert ["features.3", "Conv2d", "16x10x10", "2,416", "240,000", "14", "2"] in p.rows
