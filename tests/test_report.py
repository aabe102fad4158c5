"""inspect's report.html: a tiny folder of images gets a gallery with thumbnails, feature data
the same table without them; the page is one self-contained file that a browser renders."""
import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

CHROMIUM = "/usr/bin/chromium"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


class Page(HTMLParser):
    """The gallery's rows (cells as text) and images, every <img> source, and any reference to
    a file or the network (there must be none)."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.external, self.heads = [], [], [], []
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        if self._table == "gallery" and tag == "tr":
            self.rows.append({"cells": [], "img": None, "given": a.get("data-given")})
        if self._table == "gallery" and tag in ("td", "th"):
            self._cell = ""
        if tag == "img":
            self.images.append(a["src"])
            if self._table == "gallery":
                self.rows[-1]["img"] = a["src"]
        for key in ("src", "href"):
            if key in a and not a[key].startswith("data:"):
                self.external.append(a[key])
        if tag in ("link", "iframe") or (tag == "script" and "src" in a):
            self.external.append(tag)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1]["cells"].append(self._cell.strip())
            self._cell = None
        if tag == "table":
            self._table = None


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    head, body = page.rows[0], page.rows[1:]
    page.heads, page.rows = head["cells"], body
    return page


def _decode(uri: str):
    from PIL import Image

    assert uri.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A resnet18 run on cached features of 16 tiny JPEGs in 4 class folders, inspected."""
    from fixtures_images import make_image_folder

    from pyro_can.cli import main
    from pyro_can.cli_inspect import inspect_command

    base = tmp_path_factory.mktemp("report")
    root = make_image_folder(base / "shapes", {"apple": 4, "pear": 4, "plum": 4, "fig": 4})
    run = base / "run"
    res = CliRunner().invoke(main, ["fit", "--data", "folder", "--root", str(root), "--arch",
                                    "resnet18", "--feature-cache", "--workers", "0", "--device",
                                    "cpu", "--epochs", "2", "--batch-size", "4", "--hidden", "16",
                                    "--noise-rate", "0.5", "--out", str(run)])
    assert res.exit_code == 0, res.output
    cli = CliRunner().invoke(inspect_command, [str(run), "--no-cleanlab", "--clusters", "2"])
    assert cli.exit_code == 0, cli.output
    return run, cli


def test_folder_report_shows_every_item_as_a_thumbnail(folder_run):
    run, cli = folder_run
    path = run / "inspect" / "report.html"
    assert f"report: {path}" in cli.stdout
    page = parse(path)
    assert page.external == []  # self-contained: no file, server or network reference
    train = np.load(run / "train_data.npz")
    n = len(train["train_ids"])
    assert len(page.rows) == n == 12  # 16 images, a quarter held out for the test set
    assert page.heads[:4] == ["rank", "image", "id", "given label"]
    assert all(r["img"] for r in page.rows)
    sizes = {_decode(r["img"]).size for r in page.rows}
    assert sizes == {(40, 30)}  # small images as they are (the page scales them), never larger
    # rows in trust order, ids those of the run, the given label the file's folder (noised)
    items = {r["id"]: r for r in _csv(run / "inspect" / "issues.csv")}
    for rank, r in enumerate(page.rows, start=1):
        cells = r["cells"]
        assert cells[0] == str(rank) and items[cells[2]]["rank"] == str(rank)
        assert cells[3] == items[cells[2]]["noisy_label"] == r["given"]
    s = json.loads((run / "inspect" / "summary.json").read_text())
    assert s["report"]["thumbnails"] == n and s["report"]["thumbnails_skipped"] is None
    html = path.read_text()
    assert "Estimated noise matrix" in html and "known to be wrong" in html  # --noise-rate mask


def _csv(path):
    import csv

    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    from pyro_can import api
    from pyro_can.config import Config
    from pyro_can.inspection import write_report

    run = tmp_path_factory.mktemp("report") / "music"
    api.fit(Config(data="music", epochs=2, quality_prior="worker"), out=run)
    result = write_report(run, clusters=2, with_cleanlab=False)
    return run, result


def test_feature_report_has_the_table_without_thumbnails(music_run):
    run, result = music_run
    page = parse(run / "inspect" / "report.html")
    assert page.external == []
    assert "image" not in page.heads and page.heads[-1] == "label wrong"
    assert len(page.rows) == 300  # the top of 700 items; issues.csv ranks them all
    assert all(r["img"] is None for r in page.rows)
    trust = [float(r["cells"][4]) for r in page.rows]
    assert trust == sorted(trust) and trust[0] == pytest.approx(np.nanmin(result["trust"]),
                                                                abs=1e-3)
    assert any("(worker " in r["cells"][6] for r in page.rows)  # several answers, their workers
    assert "quality embedding" in page.images[0] or _decode(page.images[0]).format == "PNG"
    html = (run / "inspect" / "report.html").read_text()
    assert '<table id="workers">' in html and "reliability" in html
    assert result["summary"]["report"]["thumbnails_skipped"] == "feature data: no images to show"


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"{CHROMIUM} is absent (Debian's chromium package): the browser check "
                           "of report.html needs it")
def test_report_renders_in_headless_chromium(folder_run, tmp_path):
    """The page as a browser sees it after its script ran: every gallery row and image there,
    the row counter filled in by the script, and the images decoded (natural width > 0)."""
    run, _ = folder_run
    path = run / "inspect" / "report.html"
    probe = tmp_path / "probe.html"  # the page plus a line that records what the browser drew
    probe.write_text(path.read_text().replace("</body>", """<script>
var imgs = document.querySelectorAll('#gallery img');
var drawn = Array.prototype.filter.call(imgs, function (i) { return i.naturalWidth > 0; });
document.body.setAttribute('data-drawn', drawn.length + '/' + imgs.length);
</script></body>"""))
    profile = tmp_path / "profile"
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    dom = out.stdout
    assert "<table" in dom, out.stderr[-2000:]
    assert 'data-drawn="12/12"' in dom
    assert "12 of 12 rows" in dom  # the filter script ran
    shutil.rmtree(profile, ignore_errors=True)
