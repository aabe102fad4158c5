"""The guide of models with no latent variables (plain and the likelihood baselines)."""


def build(cfg, in_dim: int, num_classes: int) -> dict:
    return {}


def guide(nets, batch, hp, cfg):
    return None
