"""Every tensor of a training step lives on the model's device: a CPU run of the step under a
``TorchFunctionMode`` that records, for every torch call, the devices of its tensor arguments,
and every tensor that a factory (``torch.zeros``, ``torch.arange``, ...) made without being told
where. On a GPU such a tensor would be made on the CPU and either fail the step or cost a copy;
on the CPU it is invisible unless looked for like this."""
from __future__ import annotations

import traceback

import pyro
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits, load_music
from pyro_can.train import Trainer

FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.arange, torch.eye,
             torch.tensor, torch.as_tensor, torch.randn, torch.rand, torch.randint,
             torch.linspace}
OURS = ("pyro_can/", "models/", "guides/")


class DeviceCheck(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.devices, self.undirected = set(), []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor) and t.dim() > 0:  # 0-d CPU scalars mix with any
                self.devices.add(t.device)
        out = func(*args, **kwargs)
        if func in FACTORIES and "device" not in kwargs and isinstance(out, torch.Tensor) \
                and out.dim() > 0:
            frame = traceback.extract_stack()[-2]  # the caller: pyro-can's own code, not a library
            if any(o in frame.filename for o in OURS):
                self.undirected.append(f"{frame.filename}:{frame.lineno} {func.__name__}")
        return out


@pytest.mark.parametrize("data,kw", [
    ("digits", {}),  # the default CAN: tracegraph, categorical y
    ("digits", {"elbo": "meanfield", "latent": "bernoulli", "lam": 0.3}),
    ("music", {"quality_prior": "worker"}),  # crowd answers: the padded answers table, workers
    ("music", {"method": "crowd-layer"}),
])
def test_a_step_keeps_every_tensor_on_the_model_device(data, kw):
    ds = load_digits(seed=0, noise_rate=0.4) if data == "digits" else load_music(seed=0)
    trainer = Trainer(Config(epochs=1, seed=0, device="cpu", hidden="32", data=data, **kw), ds)
    items = torch.arange(24, device=trainer.device)
    check = DeviceCheck()
    with check, pyro.validation_enabled(False):
        for alpha in (0.5, 1.0):  # the warm-up's mixture and the ELBO alone
            trainer.step(trainer.train_set.batch(items), StepParams(tau=0.5, alpha=alpha))
    assert check.devices == {trainer.device}
    assert not check.undirected, check.undirected
