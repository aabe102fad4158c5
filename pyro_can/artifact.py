"""The run artifact: what a finished run folder holds so that its classifier can be used without
rebuilding the training data, by the CLI (``predict``, ``export``, ``evaluate --input``) and by
``CANClassifier.load`` alike, whoever wrote the folder (``pyro-can fit`` or ``CANClassifier.save``).

    RUN/config.json    the resolved config (``runs.write_config``)
    RUN/model.pt       state dict of a ``predictor.Predictor``: the preprocessing and the
                       classifier; tensors only, read with ``torch.load(weights_only=True)``
    RUN/model.json     how to rebuild it and what it means: its input (feature rows of a width,
                       or images and their view), class names, single- or multi-label, output
                       (softmax | sigmoid), classifier, and where it came from: package
                       versions, git commit, device and threads of the fit
    RUN/posterior.npz  per training item: q(y | x, ỹ), p_θ(y | x), the trust in its label, q(z)
                       per answer (``run_folder.write_posterior``)

The preprocessing is a module inside the predictor, so ``predict`` and an exported model see a
new input exactly as training saw its rows:

* feature rows (``--arch mlp``): the training rows' standardization, then the MLP;
* images trained end to end (``--arch resnet18|34``, ``cifar-resnet18|34``): pixel
  normalization, then the trained backbone and its head;
* images through a frozen backbone (``--feature-cache``): pixel normalization, the backbone
  (its weights saved here: the run does not need ``--weights`` again), the standardization of
  its features, then the MLP.

For images the view's geometry, short side resized to ``size`` then a centre ``size`` crop
(224, or 32 for CIFAR), is in model.json's ``image`` and applied to the file before the module;
a run tested on six crops is still scored on the centre view here.

Both writers go through ``write`` here (called by ``run_folder.write_results``) and every reader
through ``load`` (called by ``run_folder.RunFolder.predictor``); a missing or damaged file is one
``RunFolderError`` naming it (``runs``)."""
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
from .errors import RunFolderError
from .predictor import PixelNormalize, Predictor, Standardize

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


IMAGES = "images"  # model.json "preprocessing" of an image run (feature rows: "standardize")


def _skeleton(spec: dict) -> Predictor:
    """The predictor ``model.json`` describes, with placeholder weights: the one place its
    layout is written down, for ``write`` (which fills it) and ``load`` (which reads it)."""
    from .backbones import FEATURE_DIM, build_backbone
    from .nets import MLP

    c, softmax = len(spec["class_names"]), spec["single_label"]
    net = spec["classifier"]
    arch, hidden = net["arch"], tuple(net["hidden"])
    layers = dict(batch_norm=net.get("batch_norm", False), dropout=net.get("dropout", 0.0))
    if spec["preprocessing"] != IMAGES:
        d = spec["in_features"]
        return Predictor(Standardize(np.zeros(d), np.ones(d)), MLP(d, c, hidden, **layers).net,
                         softmax)
    dim = FEATURE_DIM[arch]
    pixels, head = PixelNormalize(np.zeros(3), np.ones(3)), MLP(dim, c, hidden, **layers).net
    backbone = build_backbone(arch, None, warn=False)
    if spec["classifier"]["backbone"] == "frozen":
        return Predictor(torch.nn.Sequential(pixels, backbone, Standardize(np.zeros(dim),
                                                                           np.ones(dim))),
                         head, softmax)
    return Predictor(pixels, torch.nn.Sequential(backbone, head), softmax)


def _plain(module: torch.nn.Module) -> torch.nn.Module:
    """A CPU float32 copy in eval mode (the training nets stay where they are)."""
    return copy.deepcopy(module).cpu().float().eval().to(memory_format=torch.contiguous_format)


def predictor_of(spec: dict, classifier: torch.nn.Module, feature_scale, pixel_scale=None,
                 backbone: torch.nn.Module | None = None) -> Predictor:
    """The predictor of ``spec`` holding the run's weights: ``classifier`` (an ``nets.MLP``, or
    a ``backbones.ImageClassifier`` trained end to end), ``feature_scale`` (mean, std) of
    feature rows or of frozen-backbone features, ``pixel_scale`` (mean, std) per channel and
    the frozen ``backbone`` of a feature-cache run."""
    out = _skeleton(spec)
    if spec["preprocessing"] != IMAGES:
        out.preprocess.load_state_dict(Standardize(*feature_scale).state_dict())
        out.classifier.load_state_dict(_plain(classifier.net).state_dict())
        return out.eval()
    pixels = PixelNormalize(*pixel_scale).state_dict()
    if spec["classifier"]["backbone"] == "frozen":
        out.preprocess[0].load_state_dict(pixels)
        out.preprocess[1].load_state_dict(_plain(backbone).state_dict())
        out.preprocess[2].load_state_dict(Standardize(*feature_scale).state_dict())
        out.classifier.load_state_dict(_plain(classifier.net).state_dict())
    else:
        out.preprocess.load_state_dict(pixels)
        out.classifier[0].load_state_dict(_plain(classifier.backbone).state_dict())
        out.classifier[1].load_state_dict(_plain(classifier.head.net).state_dict())
    return out.eval()


def data_record(data) -> dict:
    """Fingerprints of the inputs a run trained and was tested on (SHA-256 of the arrays the
    loaders built: features, or image rows). ``train_data.npz`` records the labels; this catches
    an input file whose features changed under the same labels."""
    def digest(x):
        return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return {"x_train_sha256": digest(data.x_train), "x_test_sha256": digest(data.x_test),
            "train_items": int(data.num_items), "test_items": int(len(data.x_test))}


def check_data(run_dir, data) -> None:
    """The data rebuilt from config.json against ``model.json``'s record (finished runs, which
    all hold one: a missing model.json is a damaged folder)."""
    path = Path(run_dir) / MODEL_JSON
    saved = runs.read_json(path).get("data_record")
    if saved is not None and saved != data_record(data):
        raise RunFolderError(f"{run_dir}: the features rebuilt from config.json differ from "
                             f"those the run trained and was tested on ({MODEL_JSON}'s "
                             f"data_record): was the input file changed? re-run it (pyro-can "
                             f"fit ... --out {run_dir} --overwrite)")


def image_input(cfg, pixels) -> tuple[dict, tuple] | None:
    """For an image run, model.json's ``image`` (the view's geometry) and the pixel
    normalization (mean, std per channel); None for a run on feature rows. ``pixels``: the
    data's image store (``TensorPixels`` for CIFAR held in memory)."""
    from . import backbones

    if cfg.arch == "mlp":
        return None
    if pixels is not None and hasattr(pixels, "mean"):  # TensorPixels: the training pixels'
        size = int(pixels.image_shape[1])
        scale = (pixels.mean.reshape(3).cpu().numpy(), pixels.std.reshape(3).cpu().numpy())
    else:
        size, scale = backbones.CROP, (backbones.IMAGENET_MEAN, backbones.IMAGENET_STD)
    return {"resize": size, "centre_crop": size, "channels": "RGB"}, scale


def write(run_dir, cfg, classifier, class_names, single_label: bool, feature_scale,
          in_features: int, device, pixels=None, record: dict | None = None) -> None:
    """``model.pt`` and ``model.json``. ``feature_scale``: (mean, std) of the feature rows, or
    of the frozen backbone's features with ``--feature-cache``; ``pixels``: the data's image
    store, for an image run (``image_input``)."""
    from .backbones import build_backbone

    run_dir = Path(run_dir)
    image = image_input(cfg, pixels)
    frozen = image is not None and not cfg.end_to_end
    spec = {"format_version": FORMAT_VERSION, "class_names": [str(c) for c in class_names],
            "single_label": bool(single_label),
            "output": "softmax" if single_label else "sigmoid",
            "in_features": int(in_features),
            "preprocessing": "standardize" if image is None else IMAGES,
            "classifier": {"arch": cfg.arch, "hidden": list(cfg.hidden_sizes),
                           "batch_norm": bool(cfg.batch_norm), "dropout": float(cfg.dropout),
                           "backbone": None if image is None else
                           "frozen" if frozen else "trained"},
            "provenance": provenance(device)}
    if image is not None:
        spec["image"] = image[0]
    if record is not None:
        spec["data_record"] = record
    backbone = build_backbone(cfg.arch, cfg.weights, warn=False) if frozen else None
    predictor = predictor_of(spec, classifier, feature_scale,
                             None if image is None else image[1], backbone)
    runs.save_torch(run_dir / MODEL_PT, predictor.state_dict())
    runs.write_json(run_dir / MODEL_JSON, spec)


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
    if spec.get("preprocessing") == "image-centre-view":  # image runs written by an earlier pyro-can
        raise RunFolderError(f"{path}: written by an earlier pyro-can, whose image runs kept "
                             f"the pixel normalization outside the model; re-run it (pyro-can "
                             f"fit ... --out {run_dir} --overwrite)")
    try:
        ok = (isinstance(spec["class_names"], list) and isinstance(spec["single_label"], bool)
              and isinstance(spec["in_features"], int) and spec["in_features"] > 0
              and all(isinstance(h, int) and h > 0 for h in spec["classifier"]["hidden"])
              and spec["preprocessing"] in ("standardize", IMAGES)
              and isinstance(spec["classifier"].get("batch_norm", False), bool)
              and isinstance(spec["classifier"].get("dropout", 0.0), (int, float)))
        if ok and spec["preprocessing"] == IMAGES:
            from .backbones import FEATURE_DIM

            ok = (spec["classifier"]["arch"] in FEATURE_DIM
                  and spec["classifier"]["backbone"] in ("frozen", "trained")
                  and isinstance(spec["image"]["resize"], int) and spec["image"]["resize"] > 0
                  and isinstance(spec["image"]["centre_crop"], int)
                  and spec["image"]["centre_crop"] > 0)
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise runs.damaged(path, "not a pyro-can model description")
    return spec


def load(run_dir) -> tuple[Predictor, dict]:
    """The run's ``Predictor`` (CPU, eval mode) and its ``model.json``."""
    run_dir = Path(run_dir)
    spec = read_spec(run_dir)
    path = run_dir / MODEL_PT
    if not path.is_file():
        raise runs.damaged(path, "missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip, unpickler and storage errors alike
        raise runs.damaged(path, f"not a readable model ({type(e).__name__})") from None
    predictor = _skeleton(spec)
    try:
        predictor.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError, KeyError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise runs.damaged(path, f"does not match model.json ({first})") from None
    return predictor.requires_grad_(False).eval(), spec  # inference only, also once exported
