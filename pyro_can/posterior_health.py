"""Has CAN learned anything about the labels? One verdict on a finished run's posterior.

CAN's promise over a plain classifier is q(y | x, ỹ): a posterior over the clean label that may
disagree with the given one. Three failures leave the run looking fine by its loss yet make that
posterior useless, and nothing else in a run says so:

* **it copies the labels**: q's most probable label is the given one on (nearly) every item, so
  CAN changed nothing and trust is flat; trained long on few items, the classifier memorizes the
  noisy labels and the guide follows it;
* **the quality embedding is unused**: the guide's means μ of q(z | x, ỹ) are (nearly) zero for
  every answer, i.e. q(z) is the prior and z tells the decoder nothing about any label;
* **it flips most labels**: q disagrees with the given label on most items, more than any
  plausible noise rate, the mark of a posterior that lost its anchor to the labels.

``posterior_health`` decides it from plain arrays (no test labels, no truth: it holds for a
user's own data); ``fit`` records it in metrics.json (``posterior_health``), and ``fit`` and
``inspect`` print its warnings. The thresholds are choices, not measurements of any run: they
flag only the extremes, where no amount of label noise explains the figure.
"""
from __future__ import annotations

import numpy as np

#: at least this share of items keeping their given label: the posterior copied the labels
COPIES_AT = 0.995
#: at most this share keeping it: the posterior flips most labels
FLIPS_AT = 0.5
#: mean |μ| of q(z | x, ỹ) over answers and dimensions below this: z is unused. Runs that use z
#: do so faintly: 0.034 on digits at noise 0.4 (25 epochs; 0.054 on the corrupted answers, 0.024
#: on the kept ones), 0.041 on music (30 epochs), 0.015 on clean digits, σ ≈ 0.97 throughout; the
#: threshold sits a factor 3 below the faintest of them
UNUSED_MU_AT = 0.005

ADVICE = {
    "copies the labels": "fewer --epochs (the classifier memorized the noisy labels), "
                         "--weight-decay (e.g. 5e-4), the settings docs/training.md reports for "
                         "this data set, or a --val-fraction to choose them on",
    "quality embedding unused": "a larger --lam or --quality-dim, a longer --warmup-epochs, or "
                                "the settings docs/training.md reports for this data set",
    "flips most labels": "fewer --epochs, a smaller --lr, a larger --prior-init or "
                         "--label-init (more weight on the given labels)",
}


def posterior_health(given: np.ndarray, q_y: np.ndarray, z_loc: np.ndarray | None,
                     single_label: bool, answered: np.ndarray | None = None,
                     warmup: tuple[int, float] | None = None) -> dict:
    """The verdict on a posterior: ``given`` (N, C) 0/1 given labels per item (the vote for crowd
    data), ``q_y`` (N, C) posterior class probabilities, ``z_loc`` (R, K) the guide's quality
    means per answer (None or K = 0 without z), ``answered`` (N,) bool items with an answer,
    ``warmup`` (epochs trained, warm-up epochs): a run that ended in its warm-up, where q(y)
    follows the given labels by design, is told to train longer instead.

    Returns a JSON-ready dict: ``status`` ("ok" or the failures joined by ", "), ``problems``
    (list), ``kept_share`` (share of answered items whose posterior label is the given label),
    ``changed`` (how many items' posterior label differs), ``mean_abs_mu`` (None without z),
    ``warnings`` (one sentence per problem, with what to try)."""
    q = np.asarray(q_y, np.float64)
    given = np.asarray(given) > 0.5
    keep = np.ones(len(q), bool) if answered is None else np.asarray(answered, bool)
    if single_label:
        post = np.zeros_like(given)
        post[np.arange(len(q)), q.argmax(1)] = True
    else:
        post = q > 0.5
    same = (post == given).all(1)[keep]
    kept = float(same.mean()) if len(same) else 1.0
    mu = None
    if z_loc is not None and np.size(z_loc):
        mu = float(np.abs(np.asarray(z_loc, np.float64)).mean())
    problems, warnings = [], []
    if len(same) and kept >= COPIES_AT:
        problems.append("copies the labels")
        warnings.append(f"the posterior keeps the given label on {kept:.1%} of the items "
                        f"({int((~same).sum())} changed): CAN learned nothing about the labels "
                        "beyond them (or they are clean); try "
                        + (f"more --epochs (the run ended in its warm-up of {warmup[1]:g} "
                           "epochs, where q(y) follows the given labels)"
                           if warmup is not None and warmup[0] <= warmup[1]
                           else ADVICE["copies the labels"]))
    elif len(same) and kept <= FLIPS_AT:
        problems.append("flips most labels")
        warnings.append(f"the posterior changes the given label on {1 - kept:.1%} of the "
                        "items, more than label noise explains; try " + ADVICE["flips most labels"])
    if mu is not None and mu < UNUSED_MU_AT:
        problems.append("quality embedding unused")
        warnings.append(f"the quality embedding is unused (mean |μ| of q(z) {mu:.3g}, below "
                        f"{UNUSED_MU_AT}): z says nothing about any label; try "
                        + ADVICE["quality embedding unused"])
    return {"status": ", ".join(problems) if problems else "ok", "problems": problems,
            "kept_share": round(kept, 6), "changed": int((~same).sum()),
            "mean_abs_mu": None if mu is None else round(mu, 6), "warnings": warnings}
