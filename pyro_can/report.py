"""``RUN/inspect/report.html``: one self-contained page for reviewing a run's suspect labels.

What a user who trained on noisy labels wants to see first: the items whose labels CAN doubts
most, as the images themselves with their given label, the label CAN believes and its trust
(the paper's Fig. 8), and beside them the run's summary: how many labels CAN changed, whether its
posterior is healthy, the noise matrix it estimated, the quality-embedding figure and the
workers' reliabilities. The page is one file: thumbnails and figures are inlined as ``data:``
URIs, the table sorts and filters with a few lines of plain JavaScript, and nothing is fetched
from a server or the network.

Only the ``limit`` most suspect items (lowest trust) get a row and a thumbnail, so the page of a
45,000-item run stays small and opens at once; ``issues.csv`` ranks every item.

Thumbnails come from wherever the run's images are (``thumbnail_source``): the image files of an
end-to-end run (``Pixels``) or of a folder/VOC run on cached features (the data set's ``items``
rebuilt from the run's options), the uint8 tensors of CIFAR-10N, or feature rows that are small
images themselves (digits). Feature data without images gets the same table without them.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import os
from pathlib import Path
from typing import Callable

import numpy as np

from . import safe_io
from .inspection_tables import label_text

REPORT = "report.html"
LIMIT = 300  # rows (and thumbnails) in the gallery
THUMB = 96  # thumbnail size in pixels (the longer side)


# -- thumbnails ------------------------------------------------------------------------------------
def thumbnail_source(run, source) -> tuple[Callable[[int], object] | None, str | None]:
    """``(thumb, None)`` with ``thumb(i)`` a PIL image of training item i, or ``(None, why)``
    when the run's items are not images the report can show. ``run``: a ``fitted.FittedRun``;
    ``source``: ``inspection.SourceData``, rebuilt only for images trained end to end."""
    from PIL import Image

    cfg, items = run.cfg, run.items
    if cfg.end_to_end:
        data = source.get()
        pixels = None if data is None else data.pixels
        if pixels is not None and hasattr(pixels, "train_paths"):  # image files
            paths = pixels.train_paths
            return (lambda i: Image.open(paths[int(data.x_train[i, 0])])), None
        if pixels is not None and hasattr(pixels, "train"):  # uint8 tensors (CIFAR-10N)
            train = pixels.train
            return (lambda i: Image.fromarray(
                train[int(data.x_train[i, 0])].permute(1, 2, 0).cpu().numpy())), None
        if data is None:
            return None, source.reason
    paths = _source_paths(cfg)
    if paths is not None:
        return (lambda i: Image.open(paths[int(items.train_ids[i])])), None
    images = source.images(items)
    if images is not None:
        return (lambda i: Image.fromarray((255 * (1 - images[i])).astype(np.uint8))
                if images.ndim == 3 else Image.fromarray((255 * images[i]).astype(np.uint8))), None
    if cfg.data in IMAGE_DATA:
        return None, (f"the images of this --data {cfg.data} run cannot be found from its "
                      "options (trained on features of files the report cannot locate)")
    return None, "feature data: no images to show"


IMAGE_DATA = ("folder", "cifar10n", "voc07", "voc12", "web", "sd4", "amt")


def _source_paths(cfg) -> list[str] | None:
    """The source's image path of each training id for a folder or VOC run on cached features
    (``train_ids`` index the data set's item list), None elsewhere or when it is gone."""
    try:
        if cfg.data == "folder" and cfg.root:
            from .datasets import folder

            return folder.items(cfg.root, cfg.test_fraction, cfg.seed,
                                hold_out=not cfg.test).paths
        if cfg.data in ("voc07", "voc12") and cfg.root:
            from .datasets import voc

            year = "2007" if cfg.data == "voc07" else "2012"
            return voc.items(cfg.root, year, cfg.split or None).paths
        if cfg.data == "cifar10n" and cfg.root and os.path.isdir(os.path.join(cfg.root, "images")):
            return _cifar10n_paths(cfg)
    except Exception:  # noqa: BLE001  the report then shows no thumbnails, and says why
        return None
    return None


def _cifar10n_paths(cfg) -> list[str]:
    """CIFAR-10N's training image files in the python order (``train_ids``) from the folder
    layout, without reading the images: training image i is file number rank(i) of the folder of
    its clean class (``cifar10n.folder_images``' rule)."""
    from .datasets import cifar10n

    label_file = cfg.label_file or os.path.join(cfg.root, cifar10n.LABEL_FILE)
    clean = cifar10n.read_human_labels(label_file)["clean_label"]
    base = os.path.join(cfg.root, "images", "train")
    files = [sorted(f for f in os.listdir(os.path.join(base, name)) if f.lower().endswith(".jpg"))
             for name in cifar10n.CLASS_NAMES]
    rank = np.zeros(len(files), np.int64)
    paths = []
    for c in clean:
        paths.append(os.path.join(base, cifar10n.CLASS_NAMES[c], files[c][rank[c]]))
        rank[c] += 1
    return paths


def _data_uri(image, size: int = THUMB) -> str:
    image = image.convert("RGB")
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png_uri(path: Path) -> str | None:
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# -- the estimated noise matrix -------------------------------------------------------------------
def noise_matrix(q_y: np.ndarray, ann_item: np.ndarray, ann_labels: np.ndarray) -> np.ndarray:
    """T[c, c'] ≈ p(given c' | true c) as the posterior sees it: every answer r of item i counts
    toward the rows by q(y_i = c) (normalized over classes) and the column(s) it gives."""
    q = np.asarray(q_y, np.float64)
    q = q / np.maximum(q.sum(1, keepdims=True), 1e-12)
    counts = q[ann_item].T @ np.asarray(ann_labels, np.float64)
    return counts / np.maximum(counts.sum(1, keepdims=True), 1e-12)


# -- the page --------------------------------------------------------------------------------------
def _e(v) -> str:
    return html.escape(str(v), quote=True)


def write(out: Path, core: dict, run, source, run_dir,
          limit: int = LIMIT) -> tuple[Path, dict]:
    """Write ``out/report.html`` from ``inspection``'s arrays (``core``) of ``run`` (a
    ``fitted.FittedRun``; ``source``: its ``inspection.SourceData``); returns its path and what
    it shows (``rows``, ``thumbnails``, ``thumbnails_skipped``)."""
    names, single = core["class_names"], run.items.single_label
    summary = core["summary"]
    trust = core["trust"]
    order = np.argsort(np.where(np.isfinite(trust), trust, np.inf), kind="stable")[:limit]
    thumb, why = thumbnail_source(run, source)
    answers: dict[int, list[str]] = {}
    for r, i in enumerate(core["ann_item"]):
        w = int(core["ann_worker"][r])
        text = label_text(core["ann_labels"][r], names, single)
        answers.setdefault(int(i), []).append(text if w < 0 else f"{text} (worker {w})")
    worker_ids = {str(w): wid for w, wid in enumerate(run.items.worker_ids or [])}
    rows, shown = [], 0
    for rank, i in enumerate(order, start=1):
        img = ""
        if thumb is not None:
            try:
                img = f'<img src="{_data_uri(thumb(int(i)))}" alt="item {_e(core["train_ids"][i])}">'
                shown += 1
            except Exception as e:  # noqa: BLE001  one unreadable image: no thumbnail, no crash
                why = why or f"some images could not be read ({type(e).__name__})"
        given = label_text(core["noisy_label"][i], names, single)
        post = label_text(core["posterior_label"][i], names, single)
        ans = answers.get(int(i), [])
        if worker_ids:
            ans = [_rename_worker(a, worker_ids) for a in ans]
        cells = [f'<td class="num">{rank}</td>']
        if thumb is not None:
            cells.append(f"<td>{img}</td>")
        cells += [f"<td>{_e(core['train_ids'][i])}</td>", f"<td>{_e(given)}</td>",
                  f"<td>{_e(post)}</td>",
                  f'<td class="num">{"" if not np.isfinite(trust[i]) else f"{trust[i]:.3f}"}</td>',
                  f"<td>{'yes' if core['disagrees'][i] else ''}</td>",
                  f"<td>{_e('; '.join(ans)) if len(ans) > 1 else ''}</td>"]
        if core["corrupted"] is not None:
            cells.append(f"<td>{'yes' if core['corrupted'][i] else 'no'}</td>")
        rows.append(f'<tr data-given="{_e(given)}" data-posterior="{_e(post)}">'
                    + "".join(cells) + "</tr>")
    heads = ["rank"] + (["image"] if thumb is not None else []) + [
        "id", "given label", "CAN's label", "trust", "changed", "answers (workers)"]
    if core["corrupted"] is not None:
        heads.append("label wrong")
    parts = [_HEAD.replace("{title}", _e(f"pyro-can: {summary['data']} / {summary['method']}"))]
    parts.append(f"<h1>Suspect labels of {_e(summary['run_dir'])}</h1>")
    parts.append(_summary_html(core, single, run_dir))
    parts.append(f"<h2>The {len(order)} most suspect of {len(trust)} items (lowest trust "
                 "first; every item is ranked in issues.csv)</h2>")
    if thumb is None:
        parts.append(f'<p class="note">no thumbnails: {_e(why)}</p>')
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in names)
    parts.append('<p><label>class <select id="cls"><option value="">all</option>'
                 f"{options}</select></label> <label><input type=checkbox id=changed> only "
                 "labels CAN changed</label> <span id=count></span></p>")
    parts.append('<table id="gallery"><thead><tr>'
                 + "".join(f"<th>{_e(h)}</th>" for h in heads)
                 + "</tr></thead><tbody>" + "\n".join(rows) + "</tbody></table>")
    parts.append(_SCRIPT + "</body></html>\n")
    path = out / REPORT
    safe_io.write_bytes(path, "\n".join(parts).encode("utf-8"))  # atomic, in the manifest
    return path, {"rows": len(order), "thumbnails": shown,
                  "thumbnails_skipped": None if thumb is not None and not why else why}


def _summary_html(core: dict, single_label: bool, run_dir) -> str:
    s = core["summary"]
    names = core["class_names"]
    out = ["<h2>Summary</h2><ul>",
           f"<li>{s['items']} training items, {s['annotations']} answers, {s['classes']} "
           f"classes; method {_e(s['method'])}</li>",
           f"<li>CAN's label differs from the given one (the labels it flags and would change) "
           f"for <b>{s['disagreements']}</b> items</li>"]
    if s["corruption_known"]:
        t = s["trust"]
        auc = "n/a" if t.get("roc_auc") is None else f"{t['roc_auc']:.3f}"
        out.append(f"<li>{s['corrupted']} labels are known to be wrong ({_e(s['wrong_labels_from'])}"
                   f"); ROC-AUC of the trust ranking {auc}</li>")
    else:
        out.append("<li>which labels are really wrong cannot be known: the data set carries no "
                   "true training labels and the run applied no artificial noise; trust is "
                   "CAN's belief</li>")
    health = s.get("posterior_health")
    if health:
        for w in health["warnings"]:
            out.append(f'<li class="warn">warning: {_e(w)}</li>')
        if not health["warnings"]:
            out.append(f"<li>posterior health: ok (keeps {health['kept_share']:.1%} of the given "
                       "labels)</li>")
    out.append("</ul>")
    if single_label:
        t = noise_matrix(core["q_y"], core["ann_item"], core["ann_labels"])
        out.append("<h3>Estimated noise matrix: p(given label | CAN's label), rows sum to 1</h3>")
        out.append(_heatmap(t, names))
    fig = _png_uri(Path(run_dir) / "inspect" / "quality_tsne.png")
    if fig:
        out.append("<h3>Quality embedding (t-SNE of the means of q(z))</h3>"
                   f'<img class="fig" src="{fig}" alt="quality embedding">')
    workers = _workers_table(run_dir)
    if workers:
        out.append("<h3>Workers</h3>" + workers)
    return "\n".join(out)


def _heatmap(t: np.ndarray, names: list[str]) -> str:
    head = "<tr><th>CAN's label \\ given</th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"
    body = []
    for c, row in enumerate(t):
        cells = "".join(
            f'<td class="num" style="background: rgba(31,119,180,{v:.3f}); color: '
            f'{"white" if v > 0.5 else "black"}">{v:.2f}</td>' for v in row)
        body.append(f"<tr><th>{_e(names[c])}</th>{cells}</tr>")
    return f'<table class="heat">{head}{"".join(body)}</table>'


def _read_workers(run_dir) -> list[dict]:
    path = Path(run_dir) / "workers.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _rename_worker(answer: str, ids: dict[str, str]) -> str:
    head, sep, tail = answer.rpartition(" (worker ")
    if not sep:
        return answer
    w = tail.rstrip(")")
    return f"{head} (worker {ids.get(w, w)})"


def _workers_table(run_dir) -> str:
    rows = _read_workers(run_dir)
    if not rows:
        return ""
    rows.sort(key=lambda r: float(r.get("reliability") or 0))
    cols = [c for c in ("worker_id", "worker", "answers", "reliability", "posterior_agreement",
                        "mean_trust", "truth_accuracy") if c in rows[0]]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)

    def cell(v):
        try:
            return f'<td class="num">{float(v):.3f}</td>' if "." in v else f"<td>{_e(v)}</td>"
        except ValueError:
            return f"<td>{_e(v)}</td>"
    body = "".join("<tr>" + "".join(cell(r[c]) for c in cols) + "</tr>" for r in rows)
    return f'<table id="workers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: middle; }
th { background: #f2f2f2; cursor: pointer; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#gallery img { width: 96px; height: auto; image-rendering: pixelated; display: block; }
img.fig { max-width: 640px; }
.warn { color: #b00; }
.note { color: #666; }
</style></head><body>"""

# sort by a clicked column (numbers as numbers), filter by class and by "changed"
_SCRIPT = """<script>
(function () {
  var table = document.getElementById('gallery');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var cls = document.getElementById('cls'), changed = document.getElementById('changed');
  function filter() {
    var c = cls.value, n = 0;
    rows.forEach(function (r) {
      var show = (!c || r.dataset.given === c || r.dataset.posterior === c) &&
                 (!changed.checked || r.dataset.given !== r.dataset.posterior);
      r.style.display = show ? '' : 'none';
      if (show) n++;
    });
    document.getElementById('count').textContent = n + ' of ' + rows.length + ' rows';
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, k) {
    var up = true;
    th.addEventListener('click', function () {
      rows.sort(function (a, b) {
        var x = a.cells[k].textContent, y = b.cells[k].textContent;
        var d = (x !== '' && y !== '' && !isNaN(x) && !isNaN(y)) ? x - y : x.localeCompare(y);
        return up ? d : -d;
      });
      up = !up;
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  cls.addEventListener('change', filter);
  changed.addEventListener('change', filter);
  filter();
})();
</script>"""
