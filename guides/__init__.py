"""Pyro guides (variational posteriors). Each module exposes ``build(cfg, in_dim, num_classes)``
and ``guide(nets, batch, hp, cfg)``; register a new one in ``pyro_can/registry.py``."""
