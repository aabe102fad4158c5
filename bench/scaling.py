"""How CAN's cost grows next to the plain net's, one size at a time: items, answers per item,
classes and feature width, each grown from the digits-sized point (2,000 items, one answer each,
10 classes, 64 features, the paper's 1024-30 classifier, batch 50) with the rest held there.

    python bench/scaling.py                 # the grid below; table printed, docs/scaling.png
    python bench/scaling.py --grid small    # fewer points, for a loaded machine
    python bench/scaling.py --steps 20      # timed steps per point

Each point (and each method) runs in its own process, so that its peak resident set size
(``ru_maxrss``) is its own; the table gives it and its growth over the process right after the
data and networks were built. Epoch time is *extrapolated*: the median time of ``--steps`` timed
steps of ``Trainer._steps`` (the training loop's own, validation off, after 3 untimed steps) times
the steps per epoch; the per-epoch work outside the steps (one ``randperm``) is left out.
The fitted exponent of each curve is the slope of log(time) on log(size), least squares.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

BASE = {"items": 2000, "answers": 1, "classes": 10, "width": 64}
GRIDS = {
    "full": {"items": [1000, 4000, 16000, 64000, 256000], "answers": [1, 2, 5, 10],
             "classes": [10, 100, 1000], "width": [64, 512, 4096]},
    "small": {"items": [1000, 10000, 100000], "answers": [1, 3, 10],
              "classes": [10, 100, 1000], "width": [64, 512, 4096]},
}
METHODS = ("plain", "can")


def make_data(items: int, answers: int, classes: int, width: int, seed: int = 0):
    """Gaussian class clusters with ``answers`` answers per item, each right with probability 0.6
    (otherwise a class drawn at random)."""
    import numpy as np

    from pyro_can.data import Dataset, one_hot

    rng = np.random.default_rng(seed)
    means = rng.standard_normal((classes, width), dtype=np.float32)
    total = items + 100
    y = rng.integers(0, classes, total)
    x = rng.standard_normal((total, width), dtype=np.float32) + means[y]
    ann_item = np.repeat(np.arange(items), answers)
    right = rng.random(len(ann_item)) < 0.6
    ann = np.where(right, y[ann_item], rng.integers(0, classes, len(ann_item)))
    return Dataset(
        name=f"generated-{items}x{width}", x_train=x[:items], ann_item=ann_item,
        ann_labels=one_hot(ann, classes), ann_worker=np.full(len(ann_item), -1),
        x_test=x[items:], y_test=one_hot(y[items:], classes),
        class_names=[str(c) for c in range(classes)], single_label=True,
        train_ids=np.arange(items), test_ids=np.arange(items, total))


def measure(point: dict, method: str, steps: int) -> dict:
    """Median step time and peak RSS of one method at one point (run in a fresh process)."""
    import pyro
    import torch

    from pyro_can.config import Config
    from pyro_can.train import Trainer

    data = make_data(point["items"], point["answers"], point["classes"], point["width"])
    trainer = Trainer(Config(method=method, epochs=100, warmup_epochs=0, ramp_epochs=0,
                             batch_size=50, lr=1e-3, device="cpu", seed=0), data)
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    order = torch.randperm(data.num_items, generator=trainer.generator).split(50)
    times = []
    with pyro.validation_enabled(False):  # as Trainer.train_epoch
        for i in range(3 + steps):
            t = time.perf_counter()
            trainer._steps(order[i % len(order):i % len(order) + 1])
            if i >= 3:
                times.append(time.perf_counter() - t)
    step_s = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"step_ms": 1e3 * step_s, "epoch_s": step_s * len(order), "steps_per_epoch": len(order),
            "peak_rss_mib": peak, "rss_growth_mib": peak - rss_built}


def spawn(point: dict, method: str, steps: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    spec = json.dumps({"point": point, "method": method, "steps": steps})
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", spec],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1][:200]}


def exponent(xs, ys) -> float:
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_names = list(GRIDS["full"])
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for col, axis in enumerate(axes_names):
        for method, style in zip(METHODS, ("o-", "s--")):
            pts = [r for r in rows if r["axis"] == axis and r["method"] == method and "epoch_s" in r]
            if not pts:
                continue
            xs = [r["point"][axis] for r in pts]
            for row_i, key in enumerate(("epoch_s", "peak_rss_mib")):
                ax = axes[row_i, col]
                ax.loglog(xs, [r[key] for r in pts], style, label=method)
                ax.set_xlabel(axis)
                ax.set_ylabel("epoch s (extrapolated)" if key == "epoch_s" else "peak RSS MiB")
                ax.grid(True, which="both", alpha=0.3)
                ax.legend()
    fig.suptitle("CAN vs plain: cost as one size grows (the others at 2,000 items, 1 answer, "
                 "10 classes, 64 features)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--grid", choices=sorted(GRIDS), default="full")
    ap.add_argument("--steps", type=int, default=12, help="timed steps per point")
    ap.add_argument("--png", default=os.path.join(ROOT, "docs", "scaling.png"))
    ap.add_argument("--raw", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                   "pyro_can_scaling.json"))
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        import torch

        torch.set_num_threads(1)
        spec = json.loads(args.worker)
        print("RESULT " + json.dumps(measure(spec["point"], spec["method"], spec["steps"])),
              flush=True)
        return
    start, load0 = time.perf_counter(), os.getloadavg()
    rows = []
    for axis, values in GRIDS[args.grid].items():
        for v in values:
            point = dict(BASE, **{axis: v})
            for method in METHODS:
                r = spawn(point, method, args.steps)
                rows.append(dict(r, axis=axis, method=method, point=point))
                print(f"[{time.perf_counter() - start:6.0f}s] {axis}={v} {method}: "
                      f"{r.get('epoch_s', r.get('error'))}", file=sys.stderr, flush=True)
    with open(args.raw, "w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1)
    print(f"grid {args.grid}, {args.steps} timed steps per point, one thread; load average "
          f"{load0[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"{time.perf_counter() - start:.0f} s\n")
    print("| grows | value | plain epoch s | CAN epoch s | CAN / plain | plain peak RSS MiB "
          "(growth) | CAN peak RSS MiB (growth) |")
    print("|---|---|---|---|---|---|---|")
    for axis, values in GRIDS[args.grid].items():
        for v in values:
            got = {r["method"]: r for r in rows if r["axis"] == axis and r["point"][axis] == v}
            p, c = got["plain"], got["can"]
            if "error" in p or "error" in c:
                print(f"| {axis} | {v} | failed: {p.get('error') or c.get('error')} | | | | |")
                continue
            print(f"| {axis} | {v:,} | {p['epoch_s']:.3f} | {c['epoch_s']:.3f} | "
                  f"{c['epoch_s'] / p['epoch_s']:.2f}× | {p['peak_rss_mib']:.0f} "
                  f"({p['rss_growth_mib']:.0f}) | {c['peak_rss_mib']:.0f} "
                  f"({c['rss_growth_mib']:.0f}) |")
    print("\n| grows | plain time exponent | CAN time exponent | plain step-time exponent | "
          "CAN step-time exponent |")
    print("|---|---|---|---|---|")
    for axis, values in GRIDS[args.grid].items():
        out = []
        for key in ("epoch_s", "step_ms"):
            for method in METHODS:
                pts = [r for r in rows if r["axis"] == axis and r["method"] == method
                       and key in r]
                out.append(exponent([r["point"][axis] for r in pts], [r[key] for r in pts])
                           if len(pts) > 1 else float("nan"))
        print(f"| {axis} | {out[0]:.2f} | {out[1]:.2f} | {out[2]:.2f} | {out[3]:.2f} |")
    plot(rows, args.png)
    print(f"\nplot: {os.path.relpath(args.png, ROOT)}")


if __name__ == "__main__":
    main()
