"""A run's classifier with its preprocessing (``predictor.Predictor``: raw feature rows, or image
pixels, in; class probabilities out) written in a form usable without pyro-can:

* ``torchscript``: ``torch.jit.load(F)`` (plain torch);
* ``onnx``: ``onnxruntime.InferenceSession(F)``, input ``x`` (batch × features, float32; for an
  image run batch × 3 × H × W pixel values 0..255 after the view's resize and centre crop,
  ``predict.image_view``), output ``probabilities``; needs the ``export`` extra (onnx,
  onnxscript; onnxruntime to run it);
* ``state-dict`` (runs on feature rows): ``torch.load(F, weights_only=True)``: ``state_dict``
  (``preprocess.mean``, ``preprocess.std``, ``classifier.<i>.weight/bias`` of an
  ``nn.Sequential`` of Linear and ReLU layers), ``layers`` (its widths), ``output`` (softmax |
  sigmoid) and ``class_names``; the README shows the dozen lines of torch that rebuild it. An
  image run's network is torchvision's ResNet: export it as TorchScript or ONNX.

The file is written to a temporary name and renamed: a failed export leaves nothing."""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch

from . import artifact, runs, safe_io
from .errors import DataError, OptionError

FORMATS = ("torchscript", "onnx", "state-dict")


def export(run_dir, fmt: str, out) -> Path:
    if fmt not in FORMATS:
        raise OptionError(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    out = safe_io.check_output(out)  # never over a run's own files; found before any work
    predictor, spec = artifact.load(run_dir)
    images = spec["preprocessing"] == artifact.IMAGES
    net = spec["classifier"]
    if fmt == "state-dict" and (images or net.get("batch_norm") or net.get("dropout")):
        what = ("an image run, whose network is a ResNet" if images else
                "its MLP has --batch-norm/--dropout layers")
        raise DataError(f"{run_dir}: {what}; --format state-dict describes a plain "
                        "Linear/ReLU MLP: use --format torchscript or onnx")
    if fmt == "torchscript":
        with warnings.catch_warnings():  # torch 2.14 marks torch.jit deprecated; it still works
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.script(predictor)
            runs.save_with(out, lambda fh: torch.jit.save(scripted, fh), safe_io.OUTPUT)
    elif fmt == "state-dict":
        d = spec["in_features"]
        layers = [d, *spec["classifier"]["hidden"], len(spec["class_names"])]
        runs.save_torch(out, {"state_dict": predictor.state_dict(), "layers": layers,
                              "output": spec["output"], "class_names": spec["class_names"]},
                        role=safe_io.OUTPUT)
    else:
        size = spec["image"]["centre_crop"] if images else None
        _onnx(predictor, (3, size, size) if images else (spec["in_features"],), out)
    return out


def _onnx(predictor, shape: tuple[int, ...], out: Path) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise OptionError("--format onnx needs onnx and onnxscript: pip install -e "
                          "'.[export]'") from None
    fd, tmp = tempfile.mkstemp(dir=None,
                               prefix=f".{out.name}.", suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings():  # the exporter's own progress notes
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                predictor, (torch.zeros(2, *shape),), input_names=["x"],
                output_names=["probabilities"], dynamic_shapes={"x": {0: torch.export.Dim(
                    "batch")}}, dynamo=True, verbose=False)
        program.save(tmp)
        runs.save_with(out, lambda fh: fh.write(Path(tmp).read_bytes()), safe_io.OUTPUT)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
