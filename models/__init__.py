"""Pyro model functions, one per method. Each module exposes ``build(cfg, in_dim, num_classes)``
returning its networks and ``model(nets, batch, hp, cfg)``, the Pyro program."""
