"""Gradient variance of the classifier's weights under each ``--elbo``, at one fixed point.

The estimators differ in how they get the gradient through y: ``meanfield`` (relaxed y,
reparameterized, closed-form KL), ``tracegraph`` (discrete y, score function with a decaying-average
or neural baseline), ``enum`` (y summed out exactly: no sampling noise from y). This script trains
CAN once (``meanfield``, past the hand-over), then, from those very weights, draws the classifier's
gradient 50 times under each estimator and prints a table:

* ``noise`` — the same minibatch 50 times: the estimator's own Monte Carlo variance (zero for a
  deterministic objective);
* ``total`` — 50 different minibatches: sampling noise plus the minibatch's;

each as the summed per-weight variance (trace of the covariance), beside the squared norm of the
mean gradient, so a row reads as a signal-to-noise ratio.

    python bench/gradient_variance.py                 # digits P = 0.8, about a minute on 2 cores
    python bench/gradient_variance.py --noise-rate 0.6 --epochs 25 --draws 50
    python bench/gradient_variance.py --data music

Neural-baseline rows start the baseline network untrained (it is not part of the fixed point).
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ESTIMATORS = (("meanfield", "avg"), ("tracegraph", "avg"), ("tracegraph", "nn"), ("enum", "avg"))


def gradient_draws(trainer, batches, hp, nets):
    """The flattened gradient of the objective w.r.t. the weights of ``nets`` (names of the
    networks of ``trainer.programs``, e.g. ``model.classifier``), on each batch in ``batches``."""
    import torch

    params = list({id(p): p for name in nets  # a network model and guide share: once
                   for p in trainer.programs.get_submodule(name).parameters()}.values())
    draws = []
    for batch in batches:
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.objective(batch, hp).backward()
        draws.append(torch.cat([torch.zeros_like(p).reshape(-1) if p.grad is None
                                else p.grad.reshape(-1) for p in params]).clone())
    return torch.stack(draws)


def summarize(draws) -> dict:
    mean = draws.mean(0)
    return {"mean_sq": float(mean.pow(2).sum()), "var": float(draws.var(0).sum())}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--noise-rate", type=float, default=0.8)
    ap.add_argument("--epochs", type=int, default=30, help="epochs of the meanfield run that "
                    "sets the fixed point (its schedule: the default 90-epoch one)")
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import pyro
    import torch

    from pyro_can.api import load_data
    from pyro_can.config import Config
    from pyro_can.schedules import step_params
    from pyro_can.train import Trainer

    noise = args.noise_rate if args.data == "digits" else 0.0
    base = Config(data=args.data, noise_rate=noise, seed=args.seed, device="cpu")
    data, _ = load_data(base)
    warm = Trainer(base, data)
    while warm.epoch < args.epochs:
        warm.train_epoch()
        warm.epoch += 1
    point = warm.programs.state_dict()
    hp = step_params(warm.cfg, float(warm.epoch))
    gen = torch.Generator().manual_seed(args.seed)
    n = warm.train_set.num_items
    items = [torch.randperm(n, generator=gen)[:base.batch_size] for _ in range(args.draws)]

    print(f"{args.data}, P = {noise}, CAN at epoch {warm.epoch} (alpha {hp.alpha:.2f}, "
          f"tau {hp.tau:.2f}); {args.draws} draws; var = trace of the gradient covariance")
    # the networks every estimator has (not the nn baseline; the classifier once, as the model's)
    shared = [f"{part}.{name}" for part in ("model", "guide")
              for name, _ in warm.programs.get_submodule(part).named_children()
              if name not in ("baseline", "prior_judgement")]
    for title, nets in (("classifier", ["model.classifier"]),
                        ("all networks (" + ", ".join(shared) + ")", shared)):
        print(f"\nWeights: {title}\n")
        print("| `--elbo` | ‖mean grad‖² | var, one minibatch (estimator noise) | "
              f"var, {args.draws} minibatches (total) | total var / ‖mean‖² |")
        print("|---|---|---|---|---|")
        for elbo, baseline in ESTIMATORS:
            cfg = Config(**{**base.to_dict(), "elbo": elbo, "baseline": baseline})
            tr = Trainer(cfg, data)
            tr.programs.load_state_dict(point, strict=False)  # the nn baseline's net starts fresh
            tr.programs.train()
            pyro.set_rng_seed(args.seed)
            with pyro.validation_enabled(False):
                # a fresh Batch each draw: a batch caches its forward pass
                same = summarize(gradient_draws(tr, [tr.train_set.batch(items[0])
                                                     for _ in range(args.draws)], hp, nets))
                many = summarize(gradient_draws(tr, [tr.train_set.batch(i) for i in items],
                                                hp, nets))
            name = elbo + (" --baseline nn" if baseline == "nn" else "")
            print(f"| `{name}` | {many['mean_sq']:.4g} | {same['var']:.4g} | "
                  f"{many['var']:.4g} | {many['var'] / max(many['mean_sq'], 1e-30):.3g} |")


if __name__ == "__main__":
    main()
