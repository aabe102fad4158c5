"""Performance benchmark: Pyro SVI step vs the same loss hand-written in PyTorch, epoch throughput
against a FLOP floor, peak memory, and scaling with the number of items.

    python bench/run.py            # full run (~5-10 min on 2 CPU cores), writes bench/RESULTS.md
    python bench/run.py --quick    # < 1 min smoke run, prints only (add --out FILE to write)
    python bench/run.py --steps N  # timed steps per configuration in the step benchmark
    python bench/run.py --profile  # cProfile of Pyro steps (digits and AMT size, tracegraph
                                   # and meanfield), printed

Every measurement runs in its own subprocess (so that ``ru_maxrss``, the peak resident set size,
belongs to that configuration) with ``OMP_NUM_THREADS`` and ``torch.set_num_threads`` both set to
``--threads`` (default 2). Text after the ``<!-- notes -->`` line of an existing RESULTS.md is kept.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

NOTES_MARK = "<!-- notes -->"
SIZES = {  # name: (features, classes, hidden, items, crowd)
    "digits": (64, 10, "1024,30", None, False),  # the real scikit-learn digits (1,347 train)
    "amt": (5376, 4, "1024,30", 7354, True),  # generated Gaussian features, crowd answers
}


# -- data -----------------------------------------------------------------------------------------
def make_dataset(n: int, dim: int, num_classes: int, seed: int = 0, crowd: bool = False,
                 num_test: int = 100):
    """Generated Gaussian class clusters. ``crowd``: 1-5 answers per item (mean 3), each right with
    probability 0.7; otherwise one answer per item with 40% of labels flipped at random."""
    import numpy as np

    from pyro_can.data import Dataset, one_hot

    rng = np.random.default_rng(seed)
    means = rng.standard_normal((num_classes, dim), dtype=np.float32)
    total = n + num_test
    y = rng.integers(0, num_classes, total)
    x = rng.standard_normal((total, dim), dtype=np.float32)
    x += means[y]
    x_train, x_test, y_train = x[:n], x[n:], y[:n]
    counts = rng.integers(1, 6, n) if crowd else np.ones(n, dtype=np.int64)
    ann_item = np.repeat(np.arange(n), counts)
    right = rng.random(len(ann_item)) < (0.7 if crowd else 0.6)
    ann = np.where(right, y_train[ann_item], rng.integers(0, num_classes, len(ann_item)))
    return Dataset(
        name=f"generated-{n}x{dim}", x_train=x_train, ann_item=ann_item,
        ann_labels=one_hot(ann, num_classes), ann_worker=np.full(len(ann_item), -1),
        x_test=x_test, y_test=one_hot(y[n:], num_classes),
        class_names=[str(c) for c in range(num_classes)], single_label=True,
        train_ids=np.arange(n), test_ids=np.arange(n, total))


def load_size(size: str, n: int | None = None):
    dim, classes, _, items, crowd = SIZES[size]
    if size == "digits" and n is None:
        from pyro_can.feature_loaders import load_digits
        return load_digits(seed=0, noise_rate=0.4)
    return make_dataset(n or items, dim, classes, crowd=crowd)


# -- utilities ------------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(rows: int, inner: int, cols: int, device, reps: int = 30) -> float:
    """Achieved GFLOP/s of a plain (rows×inner)@(inner×cols) float32 matmul (median of reps)."""
    import torch
    a = torch.randn(rows, inner, device=device)
    b = torch.randn(inner, cols, device=device)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t)
    return 2.0 * rows * inner * cols / statistics.median(times) / 1e9


def step_flops(dim: int, classes: int, hidden, b: int, rb: int, quality_dim: int = 4,
               h: int = 128) -> float:
    """Forward+backward FLOPs of one step ≈ 3 × 2 × Σ(in×out) over every Linear layer applied."""
    widths = [dim, *hidden, classes]
    classifier = sum(i * o for i, o in zip(widths[:-1], widths[1:]))
    per_item = classifier + classes * h + h * classes  # additive g1, h
    per_ann = (classes * h  # additive g2
               + 2 * classes * h + h * 2 * quality_dim  # contrastive W (p and ỹ), fc
               + (classes + quality_dim) * h + h * h + h * classes)  # decoder
    return 6.0 * (b * per_item + rb * per_ann)


def summarize(times) -> dict:
    ts = sorted(times)
    q = lambda f: ts[min(len(ts) - 1, int(f * len(ts)))]  # noqa: E731
    return {"median_ms": 1e3 * statistics.median(ts), "p25_ms": 1e3 * q(0.25),
            "p75_ms": 1e3 * q(0.75)}


# -- workers (each runs in its own process) -------------------------------------------------------
def _trainer(data, device: str, **cfg_kw):
    from bench.reference import CONFIG
    from pyro_can.config import Config
    from pyro_can.train import Trainer
    return Trainer(Config(**{"epochs": 30, "device": device, **CONFIG, **cfg_kw}), data)


import pyro  # noqa: E402  (after the sys.path set-up above)


def worker_steps(spec: dict) -> dict:
    """Interleaved Pyro step / hand-written step on the same nets and the same minibatch."""
    import pyro
    import torch
    from pyro.nn import PyroModule

    from bench.reference import reference_step
    from pyro_can.batch import StepParams
    from pyro_can.network_owner import NetworkOwner

    owner_getattr = NetworkOwner.__getattr__
    size, device = spec["size"], spec["device"]
    data = load_size(size)
    dev = torch.device(device)
    bs = spec.get("batch_size", 50)
    items = torch.randperm(data.num_items, generator=torch.Generator().manual_seed(0))[:bs]
    variants = [("meanfield", {"elbo": "meanfield"}, 1.0, "closed", False),
                ("meanfield α=0.5", {"elbo": "meanfield"}, 0.5, "closed", False),
                ("meanfield, validation on", {"elbo": "meanfield"}, 1.0, "closed", True),
                ("tracegraph", {"elbo": "tracegraph"}, 1.0, "mc", False),
                ("trace", {"elbo": "trace"}, 1.0, "mc", False)]
    out = {"size": size, "device": device, "items": data.num_items,
           "annotations": data.num_annotations, "rows": []}
    # JitTraceMeanField_ELBO is not measured: it captures each weight as a param-store site on
    # every call (the per-weight messages NetworkOwner removes), needs tensor-only arguments
    # (a Batch is not), retraces for every new number of answers per minibatch, and in Pyro 1.9.2
    # stops at its own check that a param's unconstrained tensor is the traced one
    # (pyro/ops/jit.py:96, pyro-ppl/pyro#3132). docs/speed.md says more.
    for name, cfg_kw, alpha, kl, validate in variants:
        trainer = _trainer(data, device, batch_size=bs, **cfg_kw)
        hp = StepParams(tau=0.5, alpha=alpha, lam=0.3)
        ts, items_d = trainer.train_set, items.to(dev)

        def pyro_step():  # the training loop's own step
            return trainer.step(ts.batch(items_d), hp)

        def before_step():  # the same step with PyroModule's own lookup of the networks
            NetworkOwner.__getattr__ = PyroModule.__getattr__
            try:
                return trainer.step(ts.batch(items_d), hp)
            finally:
                NetworkOwner.__getattr__ = owner_getattr

        def ref_step():
            return reference_step(trainer.model, trainer.guide, trainer.optimizer, ts.batch(items_d), hp,
                                  trainer.cfg, kl=kl)

        row = {"variant": name}
        try:
            with pyro.validation_enabled(validate):
                tp, tb, tr = [], [], []
                for i in range(spec["warmup"] + spec["steps"]):
                    trio = [(pyro_step, tp), (before_step, tb), (ref_step, tr)]
                    for fn, acc in trio[i % 3:] + trio[:i % 3]:  # each order in turn
                        sync(dev)
                        t = time.perf_counter()
                        fn()
                        sync(dev)
                        if i >= spec["warmup"]:
                            acc.append(time.perf_counter() - t)
            p, before, r = summarize(tp), summarize(tb), summarize(tr)
            row.update(pyro_ms=p["median_ms"], pyro_iqr=(p["p25_ms"], p["p75_ms"]),
                       ref_ms=r["median_ms"], ref_iqr=(r["p25_ms"], r["p75_ms"]),
                       ratio=p["median_ms"] / r["median_ms"],
                       paired_ratio=statistics.median(a / b for a, b in zip(tp, tr)),
                       before_ms=before["median_ms"], before_ratio=before["median_ms"] / r["median_ms"],
                       reference="closed-form KL" if kl == "closed" else "MC KL (relaxed density)")
        except Exception as e:  # noqa: BLE001 - report a failing row honestly
            where = traceback.extract_tb(e.__traceback__)[-1]  # an empty assert says nothing else
            msg = f"{type(e).__name__}: {e}".splitlines()[0][:120] + \
                f" ({'/'.join(where.filename.split('/')[-3:])}:{where.lineno})"
            row.update(error=msg)
        out["rows"].append(row)
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def worker_epoch(spec: dict) -> dict:
    """Items/s of Trainer.train_epoch (and of the same loop with the hand-written step)."""
    import torch

    from bench.reference import reference_step
    from pyro_can.schedules import step_params

    size, device, bs = spec["size"], spec["device"], spec["batch_size"]
    dim, classes, hidden, _, _ = SIZES[size]
    data = load_size(size, spec.get("items"))
    dev = torch.device(device)
    # lr 1e-3: at the default 0.01 (momentum 0.9) SGD diverges on these generated, unnormalized
    # 5,376-d features within an epoch; the step's cost does not depend on lr
    trainer = _trainer(data, device, batch_size=bs, epochs=100, warmup_epochs=0, ramp_epochs=0,
                       lr=1e-3)
    trainer.train_epoch()  # warm-up epoch (allocator, first-call costs)
    trainer.epoch = 1
    sync(dev)
    t = time.perf_counter()
    trainer.train_epoch()
    sync(dev)
    pyro_s = time.perf_counter() - t
    # the same epoch loop with the hand-written step
    ts, cfg = trainer.train_set, trainer.cfg
    order = torch.randperm(ts.num_items).to(dev).split(bs)
    sync(dev)
    t = time.perf_counter()
    for step, items in enumerate(order):
        reference_step(trainer.model, trainer.guide, trainer.optimizer, ts.batch(items),
                       step_params(cfg, 1 + step / len(order)), cfg)
    sync(dev)
    ref_s = time.perf_counter() - t
    hidden_sizes = tuple(int(h) for h in hidden.split(","))
    flops = step_flops(dim, classes, hidden_sizes, ts.num_items, ts.num_annotations)
    peak = matmul_gflops(bs, dim, 1024, dev)
    peak50 = matmul_gflops(50, dim, 1024, dev) if bs != 50 else peak
    floor_s = flops / (peak * 1e9)
    return {"size": size, "device": device, "batch_size": bs, "items": ts.num_items,
            "annotations": ts.num_annotations, "epoch_s": pyro_s, "ref_epoch_s": ref_s,
            "items_per_s": ts.num_items / pyro_s, "ref_items_per_s": ts.num_items / ref_s,
            "gflop_per_epoch": flops / 1e9, "matmul_gflops": peak, "matmul50_gflops": peak50,
            "achieved_gflops": flops / pyro_s / 1e9, "floor_s": floor_s,
            "floor_ratio": pyro_s / floor_s, "ref_floor_ratio": ref_s / floor_s,
            "peak_rss_mib": peak_rss_mib()}


def worker_scale(spec: dict) -> dict:
    """One epoch of Trainer.train_epoch's loop on n generated 64-d items with digits-size nets.
    With ``time_cap_s`` the epoch stops after that long and its time is extrapolated (reported)."""
    import torch
    n, device, cap = spec["items"], spec["device"], spec.get("time_cap_s")
    data = make_dataset(n, 64, 10)
    trainer = _trainer(data, device, batch_size=50)
    dev = torch.device(device)
    order = torch.randperm(n, generator=trainer.generator).to(dev)
    batches = order.split(trainer.cfg.batch_size)
    done = 0
    sync(dev)
    t = time.perf_counter()
    with pyro.validation_enabled(False):  # as Trainer.train_epoch
        while done < len(batches):
            trainer._steps(batches[done:done + 20])
            done = min(len(batches), done + 20)
            if cap and time.perf_counter() - t > cap:
                break
    trainer.scheduler.step()
    sync(dev)
    s = (time.perf_counter() - t) * len(batches) / done
    return {"items": n, "device": device, "epoch_s": s, "us_per_item": 1e6 * s / n,
            "steps_timed": done, "steps": len(batches), "peak_rss_mib": peak_rss_mib()}


def worker_profile(spec: dict) -> dict:
    """cProfile of Pyro steps (``elbo``: meanfield or tracegraph); prints the top functions by
    total (self) time and by cumulative time."""
    import cProfile
    import io
    import pstats

    import pyro
    import torch

    from pyro_can.batch import StepParams

    data = load_size(spec["size"])
    trainer = _trainer(data, spec["device"], elbo=spec.get("elbo", "meanfield"))
    hp = StepParams(tau=0.5, alpha=1.0, lam=0.3)
    items = torch.arange(50)

    def steps(k):
        for _ in range(k):
            trainer.step(trainer.train_set.batch(items), hp)

    with pyro.validation_enabled(False):
        steps(10)
        prof = cProfile.Profile()
        prof.enable()
        steps(spec["steps"])
        prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(35)
    st.sort_stats("cumulative").print_stats(45)
    return {"size": spec["size"], "text": buf.getvalue()}


WORKERS = {"steps": worker_steps, "epoch": worker_epoch, "scale": worker_scale,
           "profile": worker_profile}


def run_worker(spec_json: str) -> None:
    spec = json.loads(spec_json)
    import torch
    torch.set_num_threads(spec["threads"])
    result = WORKERS[spec["kind"]](spec)
    result["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(result), flush=True)


def spawn(spec: dict, threads: int, timeout: float = 900) -> dict:
    spec = dict(spec, threads=threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[len("RESULT "):])
            out["wall_s"] = wall
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail)[:300], "spec": spec, "wall_s": wall}


# -- report ---------------------------------------------------------------------------------------
def fmt_iqr(iqr) -> str:
    return f"{iqr[0]:.2f}–{iqr[1]:.2f}"


def render(results: dict, meta: dict) -> str:
    L = []
    load = meta["loadavg"]
    L.append("# pyro-can performance benchmark\n")
    L.append(f"- command: `{meta['command']}`")
    L.append(f"- date: {meta['date']}; host: {meta['host']}; torch {meta['torch']}, "
             f"pyro {meta['pyro']}, Python {meta['python']}")
    L.append(f"- CPU: {meta['cpus']} cores; **{meta['threads']} threads** "
             f"(`OMP_NUM_THREADS={meta['threads']}`, `torch.set_num_threads({meta['threads']})`)")
    L.append(f"- load average at start (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
             f"; at end: {meta['loadavg_end'][0]:.2f} / {meta['loadavg_end'][1]:.2f} / "
             f"{meta['loadavg_end'][2]:.2f}. The machine was shared with other training jobs, "
             "so absolute times are noisy; ratios come from interleaved steps in one process.")
    L.append(f"- GPU: {meta['gpu']}")
    L.append(f"- total wall time: {meta['wall_s']:.0f} s\n")

    L.append("## 1. One SVI step: Pyro vs hand-written PyTorch (same nets, same minibatch of 50)\n")
    L.append("Interleaved in one process (the three steps' order rotated every step), median over "
             f"{meta['steps']} timed steps after {meta['warmup']} warm-up steps; validation off as in "
             "`Trainer.train_epoch` unless stated. The hand-written step is `bench/reference.py` "
             "(closed-form KL for meanfield; relaxed-density MC KL for trace/tracegraph, the "
             "objective those ELBOs minimize). ratio = median(Pyro)/median(hand-written); paired = "
             "median of per-step ratios. *before*: the same Pyro step with `PyroModule`'s own "
             "attribute lookup (one param message per weight each time a network is read), what "
             "the models and guides did before `NetworkOwner`; before ratio = median(before) / "
             "median(hand-written).\n")
    L.append("| size | ELBO | Pyro ms (IQR) | hand-written ms (IQR) | ratio | paired | "
             "before: PyroModule lookup ms | before ratio | peak RSS MiB |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for res in results.get("steps", []):
        if "error" in res and "rows" not in res:
            L.append(f"| ? | worker failed | {res['error']} | | | | |")
            continue
        label = (f"{res['size']} ({SIZES[res['size']][0]}-1024-30-{SIZES[res['size']][1]}, "
                 f"N={res['items']}, R={res['annotations']})")
        for row in res["rows"]:
            if "error" in row:
                L.append(f"| {label} | {row['variant']} | **failed**: {row['error']} | | | | | | |")
                continue
            L.append(f"| {label} | {row['variant']} | {row['pyro_ms']:.2f} ({fmt_iqr(row['pyro_iqr'])}) "
                     f"| {row['ref_ms']:.2f} ({fmt_iqr(row['ref_iqr'])}) | **{row['ratio']:.2f}×** "
                     f"| {row['paired_ratio']:.2f}× | {row['before_ms']:.2f} "
                     f"| {row['before_ratio']:.2f}× | {res['peak_rss_mib']:.0f} |")
    L.append("")

    L.append("## 2. Epoch throughput on AMT-sized features vs the FLOP floor\n")
    L.append("`Trainer.train_epoch` (second epoch, α=1, lr 1e-3) on generated 5,376-d Gaussian features, 4 "
             "classes, 1–5 crowd answers per item; the hand-written column runs the same epoch "
             "loop with `reference_step`. FLOPs per epoch = 3 × 2 × Σ(in×out) over every Linear "
             "applied (classifier per item; additive/contrastive/decoder per item or annotation). "
             "Floor = FLOPs / achieved GFLOP/s of a plain B×5376×1024 float32 matmul measured in "
             "the same process.\n")
    L.append("| batch | items | epoch s | items/s | hand-written items/s | GFLOP/epoch | "
             "matmul GFLOP/s (B×5376×1024; 50×…) | achieved GFLOP/s (% of matmul) | floor s | "
             "× floor (Pyro) | × floor (hand-written) | peak RSS MiB |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results.get("epoch", []):
        if "error" in r:
            L.append(f"| {r['spec'].get('batch_size')} | failed: {r['error']} |" + " |" * 10)
            continue
        L.append(f"| {r['batch_size']} | {r['items']} | {r['epoch_s']:.2f} | {r['items_per_s']:.0f} "
                 f"| {r['ref_items_per_s']:.0f} | {r['gflop_per_epoch']:.1f} | "
                 f"{r['matmul_gflops']:.1f}; {r['matmul50_gflops']:.1f} | "
                 f"{r['achieved_gflops']:.1f} ({100 * r['achieved_gflops'] / r['matmul_gflops']:.0f}%) "
                 f"| {r['floor_s']:.2f} | **{r['floor_ratio']:.2f}×** | {r['ref_floor_ratio']:.2f}× "
                 f"| {r['peak_rss_mib']:.0f} |")
    L.append("")

    L.append("## 3. Time per epoch vs number of items\n")
    L.append("One `Trainer.train_epoch` at batch 50, generated 64-d features, 10 classes, "
             "digits-size nets (64-1024-30-10), one answer per item.\n")
    L.append("| items | epoch s | µs / item | peak RSS MiB |")
    L.append("|---|---|---|---|")
    for r in results.get("scale", []):
        if "error" in r:
            L.append(f"| {r['spec'].get('items')} | failed: {r['error']} | | |")
            continue
        part = ("" if r["steps_timed"] == r["steps"]
                else f" (extrapolated from {r['steps_timed']} of {r['steps']} steps)")
        L.append(f"| {r['items']:,} | {r['epoch_s']:.2f}{part} | {r['us_per_item']:.0f} | "
                 f"{r['peak_rss_mib']:.0f} |")
    L.append("")

    L.append("## 4. GPU\n")
    if results.get("gpu"):
        for res in results["gpu"]:
            L.append("```\n" + json.dumps(res, indent=1) + "\n```")
    else:
        L.append(f"Not run: {meta['gpu']}. `bench/run.py` runs sections 1–2 on `cuda` (with "
                 "`torch.cuda.synchronize()` around each timed call) when "
                 "`torch.cuda.is_available()`.")
    L.append("")

    L.append("## Targets (computed)\n")
    for res in results.get("steps", []):
        for row in res.get("rows", []):
            if row.get("variant") in ("meanfield", "tracegraph") and "ratio" in row:
                goal = 1.25 if res["size"] == "digits" else 1.05
                ok = row["ratio"] <= goal
                L.append(f"- {res['size']}: Pyro {row['variant']} step / hand-written = "
                         f"{row['ratio']:.2f}× (before: {row['before_ratio']:.2f}×; goal ≤ "
                         f"{goal}×): **{'met' if ok else 'not met'}**")
    for r in results.get("epoch", []):
        if "floor_ratio" in r:
            ok = r["floor_ratio"] <= 3.0
            L.append(f"- AMT epoch at batch {r['batch_size']}: {r['floor_ratio']:.2f}× the FLOP floor "
                     f"(target ≤ 3×): **{'met' if ok else 'not met'}**")
    L.append("")
    return "\n".join(L)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (< 1 min), no file written")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per step-benchmark row")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scale-cap", type=float, default=120.0,
                    help="seconds per scaling epoch; a longer epoch is extrapolated (and says so)")
    ap.add_argument("--out", default=None, help="markdown file (default bench/RESULTS.md, full run)")
    ap.add_argument("--raw", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                   "pyro_can_bench_raw.json"),
                    help="where the raw measurements (JSON) go")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of Pyro steps and exit")
    ap.add_argument("--sections", default="steps,epoch,scale",
                    help="which sections to measure (comma list of steps, epoch, scale)")
    ap.add_argument("--reuse", default=None,
                    help="raw JSON of an earlier run whose results fill the sections not measured")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return run_worker(args.worker)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import pyro
    import torch
    torch.set_num_threads(args.threads)

    if args.profile:
        for (size, k), elbo in itertools.product((("digits", 300), ("amt", 60)),
                                                 ("tracegraph", "meanfield")):
            res = spawn({"kind": "profile", "size": size, "device": "cpu", "steps": k,
                         "elbo": elbo}, args.threads)
            print(f"==== cProfile, {size}, {k} {elbo} steps ====")
            print(res.get("text", res))
        return

    quick = args.quick
    steps = args.steps or (20 if quick else 200)
    warmup = min(20, max(5, steps // 4))
    start, load0 = time.perf_counter(), os.getloadavg()
    results: dict = {"steps": [], "epoch": [], "scale": [], "gpu": []}

    def log(msg):
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", flush=True)

    sizes = ("digits",) if quick else ("digits", "amt")
    wanted = set(args.sections.split(","))
    if args.reuse:
        with open(args.reuse, encoding="utf-8") as fh:
            earlier = json.load(fh)["results"]
        for key in ("steps", "epoch", "scale"):
            if key not in wanted:
                results[key] = earlier.get(key, [])
    for size in sizes if "steps" in wanted else ():
        log(f"step benchmark, {size}")
        res = spawn({"kind": "steps", "size": size, "device": "cpu", "steps": steps,
                     "warmup": warmup}, args.threads)
        results["steps"].append(res)
    for bs in (50, 500) if "epoch" in wanted else ():
        log(f"AMT epoch, batch {bs}")
        spec = {"kind": "epoch", "size": "amt", "device": "cpu", "batch_size": bs}
        if quick:
            spec["items"] = 1000
        results["epoch"].append(spawn(spec, args.threads))
    for n in ((1000,) if quick else (1000, 10_000, 100_000)) if "scale" in wanted else ():
        log(f"scaling, {n} items")
        results["scale"].append(spawn({"kind": "scale", "items": n, "device": "cpu",
                                       "time_cap_s": args.scale_cap}, args.threads))
    if torch.cuda.is_available():
        gpu = f"CUDA available: {torch.cuda.get_device_name(0)}"
        for size in sizes:
            log(f"GPU step benchmark, {size}")
            results["gpu"].append(spawn({"kind": "steps", "size": size, "device": "cuda",
                                         "steps": steps, "warmup": warmup}, args.threads))
        results["gpu"].append(spawn({"kind": "epoch", "size": "amt", "device": "cuda",
                                     "batch_size": 500}, args.threads))
    else:
        gpu = "none (torch.cuda.is_available() is False on this machine)"

    meta = {"command": "python bench/run.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "host": platform.node(), "torch": torch.__version__, "pyro": pyro.__version__,
            "python": platform.python_version(), "cpus": os.cpu_count(), "threads": args.threads,
            "loadavg": load0, "loadavg_end": os.getloadavg(), "gpu": gpu, "steps": steps,
            "warmup": warmup, "wall_s": time.perf_counter() - start}
    with open(args.raw, "w", encoding="utf-8") as fh:
        json.dump({"results": results, "meta": meta}, fh, indent=1)
    text = render(results, meta)
    print(text)
    out = args.out or (None if quick else os.path.join(HERE, "RESULTS.md"))
    if out:
        notes = ""
        if os.path.exists(out):
            old = open(out, encoding="utf-8").read()
            if NOTES_MARK in old:
                notes = old[old.index(NOTES_MARK):]
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n" + (notes or NOTES_MARK + "\n"))
        log(f"wrote {out}")


if __name__ == "__main__":
    main()
