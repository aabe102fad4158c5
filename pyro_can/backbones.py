"""ImageNet-style ResNet backbones (torchvision) and the image views they are fed.

The backbone is torchvision's ResNet with its ``fc`` layer replaced by the identity, so it maps a
normalized 224×224 RGB batch to 512-d pooled features. It is always built with ``weights=None``
(torchvision never downloads anything); ``--weights PATH`` loads a local ImageNet-style state dict
(``fc.*`` keys are ignored). Without weights the features come from a random initialization,
seeded so the same features come back every time; a warning says so.

Views (all end in ImageNet mean/std normalization):

* ``train_view``: the paper's training augmentation — resize the short side to 224, random
  224×224 crop, random horizontal flip. End-to-end training feeds it to the backbone.
* ``centre_view``: deterministic — short side to 224, centre 224×224 crop. The feature cache uses
  it for training items, and for test items when ``--test-crops 1``.
* ``six_crop_view``: ``--test-crops 6`` — short side to 256, the four 224×224 corners and the
  centre, plus the full image resized to 224×224 (aspect ratio not kept). The caller averages the
  six crops' *features* (not predictions) per image.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from .errors import DataError

ARCHS = ("resnet18", "resnet34")  # ImageNet-style: 224×224 views of image files
CIFAR_ARCHS = {"cifar-resnet18": [2, 2, 2, 2], "cifar-resnet34": [3, 4, 6, 3]}  # 32×32 tensors
FEATURE_DIM = {"resnet18": 512, "resnet34": 512, "cifar-resnet18": 512, "cifar-resnet34": 512}
CROP = 224
SIX_CROP_RESIZE = 256
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_INIT_SEED = 0  # random-init backbones are seeded so their features are reproducible


def check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise DataError(f"--arch {arch!r}: image backbones are {', '.join(ARCHS)}")


def cifar_resnet(arch: str) -> nn.Module:
    """The ResNet of the CIFAR-N protocol: torchvision's ``ResNet`` with ``BasicBlock`` and the
    depths of ResNet-18/34, but a 3×3 stride-1 stem and no max-pool, so a 32×32 image keeps a
    32×32 map in the first stage (the ImageNet stem would cut it to 8×8 at once)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    net = ResNet(BasicBlock, CIFAR_ARCHS[arch])
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.maxpool = nn.Identity()
    return net


def build_backbone(arch: str, weights: str | None = None, warn: bool = True) -> nn.Module:
    """``torchvision.models.<arch>(weights=None)`` (or a CIFAR ResNet, :func:`cifar_resnet`)
    without its ``fc`` layer, in eval mode, with the state dict at ``weights`` loaded when given."""
    import torchvision

    if arch in CIFAR_ARCHS:  # trained from scratch: initialized from the run's seeded RNG
        net = cifar_resnet(arch)
    else:
        check_arch(arch)
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
            torch.manual_seed(RANDOM_INIT_SEED)
            net = getattr(torchvision.models, arch)(weights=None)
    net.fc = nn.Identity()
    if weights:
        load_weights(net, weights, arch)
    elif warn and arch not in CIFAR_ARCHS:  # CIFAR ResNets train from scratch by design
        warn_random_init(arch)
    return net.eval()


def warn_random_init(arch: str) -> None:
    warnings.warn(f"{arch}: no --weights given, so image features come from a randomly "
                  "initialized backbone (fine for testing the pipeline, poor for accuracy); pass "
                  "--weights PATH with an ImageNet state dict", UserWarning, stacklevel=3)


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A tensor state dict from ``path`` (a plain state dict, or one under 'state_dict'/'model'; a
    DataParallel 'module.' prefix is stripped)."""
    if not os.path.isfile(path):
        raise DataError(f"--weights {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated zip, non-tensor objects
        raise DataError(f"--weights {path}: cannot read as a torch state dict "
                        f"({type(e).__name__}: {e})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise DataError(f"--weights {path}: expected a state dict (parameter name -> tensor)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def load_weights(net: nn.Module, path: str, arch: str = "backbone") -> None:
    """Load an ImageNet-style state dict into ``net`` (``fc.*`` ignored); mismatched keys or shapes
    give a DataError listing a few of them."""
    state = {k: v for k, v in read_state_dict(path).items() if not k.startswith("fc.")}
    expected = net.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}  # absent in old files
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected),
                           ("wrong shape", wrong)):
            if keys:
                more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
                parts.append(f"{what}: {', '.join(keys[:3])}{more}")
        raise DataError(f"--weights {path}: keys do not match torchvision's {arch} "
                        f"({'; '.join(parts)})")
    net.load_state_dict(state, strict=False)


def weights_digest(path: str | None) -> str:
    """What identifies the backbone's parameters in a cache key: the weights file's content hash,
    or the random-init seed."""
    if not path:
        return f"random-init-seed{RANDOM_INIT_SEED}"
    if not os.path.isfile(path):
        raise DataError(f"--weights {path}: no such file")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _normalize():
    from torchvision.transforms import v2

    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def train_view():
    """The paper's training augmentation: short side 224, random 224 crop, horizontal flip."""
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.Resize(CROP), v2.RandomCrop(CROP),
                       v2.RandomHorizontalFlip(), *_normalize()])


def centre_geometry(resize: int = CROP, crop: int = CROP) -> list:
    """The deterministic view's geometry: short side resized to ``resize``, centre ``crop``
    crop, as a uint8 (3, crop, crop) image. ``centre_view`` normalizes after it; ``predict``
    leaves the normalization to the saved predictor (``predict.image_view``)."""
    from torchvision.transforms import v2

    return [v2.ToImage(), v2.Resize(resize), v2.CenterCrop(crop)]


def centre_view():
    """Deterministic view: short side 224, centre 224 crop -> (3, 224, 224)."""
    from torchvision.transforms import v2

    return v2.Compose([*centre_geometry(), *_normalize()])


class SixCrop:
    """Four corners and centre (224 crops of the image with its short side at 256) plus the full
    image resized to 224×224 -> (6, 3, 224, 224)."""

    def __init__(self):
        from torchvision.transforms import v2

        self.to_image = v2.ToImage()
        self.resize = v2.Resize(SIX_CROP_RESIZE)
        self.five = v2.FiveCrop(CROP)
        self.full = v2.Resize((CROP, CROP))
        self.norm = v2.Compose(_normalize())

    def __call__(self, img):
        img = self.to_image(img)
        crops = [*self.five(self.resize(img)), self.full(img)]
        return self.norm(torch.stack(crops))


def six_crop_view():
    return SixCrop()


VIEWS = {"train": train_view, "centre": centre_view, "six": six_crop_view}
VIEW_SHAPES = {"train": (3, CROP, CROP), "centre": (3, CROP, CROP), "six": (6, 3, CROP, CROP)}


class ImageClassifier(nn.Module):
    """f_θ end to end on images: the ResNet backbone (trained, not frozen) and the same head the
    feature-cache mode trains on its features. A (B, 6, 3, H, W) batch (six-crop test) gives the
    mean of the six crops' logits. ``amp``: the backbone runs under bfloat16 autocast on CUDA (no
    loss scaling needed); the head and everything Pyro computes stay float32."""

    def __init__(self, arch: str, weights: str | None, head: nn.Module, amp: bool = False):
        super().__init__()
        self.backbone = build_backbone(arch, weights, warn=False).train()
        self.head, self.amp = head, amp

    @property
    def output_layer(self) -> nn.Linear:
        return self.head.output_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crops = x.shape[1] if x.dim() == 5 else 0
        if crops:
            x = x.flatten(0, 1)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and x.is_cuda):
            features = self.backbone(x)
        logits = self.head(features.float())
        return logits.view(-1, crops, logits.shape[-1]).mean(1) if crops else logits
