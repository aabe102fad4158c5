"""Seconds per epoch of an image backbone on this machine, end to end and with the feature cache.

    python bench/image_epoch.py                          # 300 images, resnet34, 1 epoch each way
    python bench/image_epoch.py --images 300 --arch resnet34 --epochs 1 --device cuda

Generates ``--images`` JPEGs (320×240, three classes) in the ``--data folder`` layout in a
temporary folder, then times ``pyro_can.api.fit`` on them twice: end to end (the backbone trains,
train-time augmentation through a DataLoader) and with ``--feature-cache`` (the frozen backbone
runs once, then only the heads train). Prints a markdown table. The backbone is randomly
initialized (no weights are downloaded); that does not change its cost.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_images(root: Path, n: int, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}
    for k in range(n):
        name = list(colours)[k % 3]
        pixels = rng.normal(colours[name], 40.0, size=(240, 320, 3)).clip(0, 255)
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{k}.jpg", quality=85)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--arch", default="resnet34")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # random-init backbone
    import torch

    from pyro_can import api
    from pyro_can.config import Config

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        make_images(root, args.images)
        os.environ["PYRO_CAN_CACHE"] = str(Path(tmp) / "cache")
        for mode, cache in (("end to end", False), ("feature cache", True)):
            cfg = Config(data="folder", root=str(root), arch=args.arch, feature_cache=cache,
                         epochs=args.epochs, workers=args.workers, device=args.device,
                         amp=args.amp, test_fraction=0.25)
            t = time.perf_counter()
            result = api.fit(cfg)
            wall = time.perf_counter() - t
            m = result.metrics
            rows.append((mode, m["train_items"], m["seconds"] / m["epochs"], wall))
    dev = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{args.arch}, {args.images} images (train {rows[0][1]}), {args.epochs} epoch(s), "
          f"device {dev}, {torch.get_num_threads()} threads, workers {args.workers}"
          f"{', amp' if args.amp else ''}")
    print("| mode | train images | s / epoch (training) | wall s (whole fit: data, features, "
          "evaluation) |\n|---|---|---|---|")
    for mode, n, per_epoch, wall in rows:
        print(f"| {mode} | {n} | {per_epoch:.2f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
