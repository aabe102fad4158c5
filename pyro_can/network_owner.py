"""``NetworkOwner``: the ``PyroModule`` every model and guide derives from, which reads its plain
``torch.nn`` sub-networks without a Pyro message per weight.

Inside a Pyro context ``PyroModule.__getattr__`` answers each read of a plain ``nn.Module``
attribute (``self.classifier``, ``self.decoder``, ...) with one ``param`` message per weight of
that module, sent through the whole poutine stack (with ``module_local_params`` a "fake"
statement, kept so that param handlers see them). Nothing in pyro-can handles them: the torch
optimizer owns the weights, every ELBO reads sample sites only, and the parameters are local.
A default CAN step read its networks five times (30 weight messages); ``docs/speed.md``
has the cost.
Sub-modules that are themselves ``PyroModule``s, and ``PyroParam``/``PyroSample`` attributes,
still go through Pyro as before.
"""
from __future__ import annotations

from pyro.nn import PyroModule


class NetworkOwner(PyroModule):
    """A ``PyroModule`` whose plain ``nn.Module`` children are returned as they are."""

    def __getattr__(self, name: str):
        modules = self.__dict__.get("_modules")
        if modules is not None:
            net = modules.get(name)
            if net is not None and not isinstance(net, PyroModule):
                return net
        return super().__getattr__(name)
