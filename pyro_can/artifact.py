"""The run artifact: what a finished run folder holds so that its classifier can be used without
rebuilding the training data, by the CLI (``predict``, ``export``, ``evaluate --input``) and by
``CANClassifier.load`` alike, whoever wrote the folder (``pyro-can fit`` or ``CANClassifier.save``).

    RUN/config.json    the resolved config (``runs.write_config``)
    RUN/model.pt       state dict of a ``predictor.Predictor``: the preprocessing (feature mean
                       and std) and the classifier; tensors only, read with
                       ``torch.load(weights_only=True)``
    RUN/model.json     how to rebuild it and what it means: input width, class names, single- or
                       multi-label, output (softmax | sigmoid), classifier widths, and where it
                       came from: package versions, git commit, device and threads of the fit
    RUN/posterior.npz  per training item: q(y | x, ỹ), the trust in its label, q(z) per answer

Both writers go through ``write`` here and both readers through ``load``; a missing or damaged
file is one ``RunFolderError`` naming it (``runs``)."""
from __future__ import annotations

import copy
import hashlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from . import runs
from .config import FORMAT_VERSION
from .errors import DataError, RunFolderError
from .posterior import item_trust
from .predictor import Predictor, Standardize

MODEL_PT, MODEL_JSON, POSTERIOR = "model.pt", "model.json", "posterior.npz"
PACKAGES = ("torch", "pyro-ppl", "pyro-can", "numpy")


def _git_commit() -> str | None:
    """The commit of the pyro-can source tree the run used, if it is a git checkout (with
    ``+dirty`` when it has uncommitted changes); None for an installed wheel."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(device) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"versions": versions, "python": sys.version.split()[0], "git_commit": _git_commit(),
            "device": str(device), "threads": torch.get_num_threads()}


IMAGE_VIEW = "image-centre-view"  # images trained end to end: read through backbones.centre_view


def predictor_of(classifier: torch.nn.Module, feature_scale, single_label: bool) -> Predictor:
    """The classifier with its preprocessing, on the CPU (a copy: training nets stay put).
    ``feature_scale`` None: an image classifier, whose input is already the centre view."""
    # the MLP's layers themselves (nn.Sequential of Linear/ReLU): plain torch, scriptable
    net = copy.deepcopy(getattr(classifier, "net", classifier)).cpu().float().eval()
    net = net.to(memory_format=torch.contiguous_format)
    pre = torch.nn.Identity() if feature_scale is None else Standardize(*feature_scale)
    return Predictor(pre, net, softmax=single_label).eval()


def data_record(data) -> dict:
    """Fingerprints of the inputs a run trained and was tested on (SHA-256 of the arrays the
    loaders built: features, or image rows). ``train_data.npz`` records the labels; this catches
    an input file whose features changed under the same labels."""
    def digest(x):
        return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return {"x_train_sha256": digest(data.x_train), "x_test_sha256": digest(data.x_test),
            "train_items": int(data.num_items), "test_items": int(len(data.x_test))}


def check_data(run_dir, data) -> None:
    """The data rebuilt from config.json against ``model.json``'s record (finished runs)."""
    path = Path(run_dir) / MODEL_JSON
    if not path.is_file():
        return
    saved = runs.read_json(path).get("data_record")
    if saved is not None and saved != data_record(data):
        raise RunFolderError(f"{run_dir}: the features rebuilt from config.json differ from "
                             f"those the run trained and was tested on ({MODEL_JSON}'s "
                             f"data_record): was the input file changed? re-run it (pyro-can "
                             f"fit ... --out {run_dir} --overwrite)")


def write(run_dir, cfg, classifier, class_names, single_label: bool, feature_scale,
          in_features: int, device, image_files: bool = False, record: dict | None = None
          ) -> None:
    """``model.pt`` and ``model.json``. ``feature_scale``: (mean, std) of the preprocessing of
    feature rows. ``image_files``: the classifier reads image files trained end to end, through
    the centre view (``backbones.centre_view``). Neither (backbone features from a feature
    cache, CIFAR images held in memory): only the classifier is saved, and ``load`` says it
    cannot predict."""
    run_dir = Path(run_dir)
    preprocessing = ("standardize" if feature_scale is not None
                     else IMAGE_VIEW if image_files else None)
    spec = {"format_version": FORMAT_VERSION, "class_names": [str(c) for c in class_names],
            "single_label": bool(single_label),
            "output": "softmax" if single_label else "sigmoid",
            "in_features": int(in_features),
            "preprocessing": preprocessing,
            "classifier": {"arch": cfg.arch, "hidden": list(cfg.hidden_sizes)},
            "provenance": provenance(device)}
    if record is not None:
        spec["data_record"] = record
    if preprocessing is not None:
        state = predictor_of(classifier, feature_scale, single_label).state_dict()
    else:
        state = {f"classifier.{k}": v.detach().cpu() for k, v in classifier.state_dict().items()}
    runs.save_torch(run_dir / MODEL_PT, state)
    runs.write_json(run_dir / MODEL_JSON, spec)


def write_posterior(run_dir, post: dict, data) -> None:
    """``posterior.npz`` of a CLI run: per training row (``data``'s items)."""
    trust = item_trust(post["q_y"], data.ann_item, data.ann_labels, data.single_label)
    runs.save_npz(Path(run_dir) / POSTERIOR, posterior=post["q_y"].astype(np.float32),
                  label_quality=trust, z_loc=post["z_loc"], z_scale=post["z_scale"])


def read_spec(run_dir) -> dict:
    """``model.json``, checked (after config.json, so an older folder gets that message)."""
    run_dir = Path(run_dir)
    runs.read_config(run_dir)
    path = run_dir / MODEL_JSON
    if not path.is_file() and (run_dir / runs.CONFIG).is_file() \
            and not (run_dir / runs.METRICS).is_file():
        raise RunFolderError(f"{run_dir}: the run has not finished (no {runs.METRICS}); "
                             f"continue it with pyro-can fit --resume {run_dir}")
    spec = runs.read_json(path)
    if spec.get("format_version") != FORMAT_VERSION:
        raise runs.damaged(path, f"format_version is {spec.get('format_version')!r}, expected "
                                 f"{FORMAT_VERSION}")
    try:
        ok = (isinstance(spec["class_names"], list) and isinstance(spec["single_label"], bool)
              and isinstance(spec["in_features"], int) and spec["in_features"] > 0
              and all(isinstance(h, int) and h > 0 for h in spec["classifier"]["hidden"]))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise runs.damaged(path, "not a pyro-can model description")
    return spec


def load(run_dir) -> tuple[Predictor, dict]:
    """The run's ``Predictor`` (CPU, eval mode) and its ``model.json``."""
    from .nets import MLP

    run_dir = Path(run_dir)
    spec = read_spec(run_dir)
    arch = spec["classifier"]["arch"]
    if spec["preprocessing"] not in ("standardize", IMAGE_VIEW) or \
            (spec["preprocessing"] == "standardize") != (arch == "mlp"):
        raise DataError(f"{run_dir}: its classifier reads backbone features or images held in "
                        f"memory (--arch {arch}), whose preprocessing is not saved; predict and "
                        "export support runs on feature rows (digits, npz, music, cifar10n "
                        "--features) and, for predict, image files trained end to end")
    path = run_dir / MODEL_PT
    if not path.is_file():
        raise runs.damaged(path, "missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip, unpickler and storage errors alike
        raise runs.damaged(path, f"not a readable model ({type(e).__name__})") from None
    d, c = spec["in_features"], len(spec["class_names"])
    hidden = tuple(spec["classifier"]["hidden"])
    if spec["preprocessing"] == IMAGE_VIEW:
        from .backbones import FEATURE_DIM, ImageClassifier

        predictor = Predictor(torch.nn.Identity(), ImageClassifier(
            arch, None, MLP(FEATURE_DIM[arch], c, hidden)), spec["single_label"])
    else:
        predictor = Predictor(Standardize(np.zeros(d), np.ones(d)), MLP(d, c, hidden).net,
                              spec["single_label"])
    try:
        predictor.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError, KeyError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise runs.damaged(path, f"does not match model.json ({first})") from None
    return predictor.requires_grad_(False).eval(), spec  # inference only, also once exported
