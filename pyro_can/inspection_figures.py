"""The figures of ``inspect`` (``RUN/inspect/*.png``), drawn with matplotlib's object API (no
pyplot state, no backend switch), each from ``inspection``'s per-item arrays: the t-SNE of the
quality embedding (paper Fig. 7), the items whose posterior label differs from the given one,
and the noisy → latent label transitions per group of the embedding (paper Fig. 9). Each returns
None when drawn, or why it was not."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import safe_io
from .inspection_tables import label_text

_EPS = 1e-12


def save(fig, path: Path) -> None:
    safe_io.write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))


def quality_tsne(core: dict, images, path: Path, seed: int) -> str | None:
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE

    mu = core["z_mu"]
    n, k = mu.shape
    if k == 0:
        return "no quality embedding z in this run"
    if n < 5:
        return f"t-SNE needs at least 5 items, the run has {n}"
    emb = TSNE(2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(
        mu.astype(np.float64))
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    if core["corrupted"] is not None:
        c = core["corrupted"]
        ax.scatter(*emb[~c].T, s=7, c="tab:blue", alpha=0.6, label=f"label kept ({(~c).sum()})")
        ax.scatter(*emb[c].T, s=7, c="tab:red", alpha=0.6, label=f"label corrupted ({c.sum()})")
        ax.legend(loc="best", fontsize=8, markerscale=2)
    else:
        sc = ax.scatter(*emb.T, s=7, c=core["trust"], cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(sc, ax=ax, label="trust")
    ax.set_title(f"t-SNE of the quality embedding μ (K={k}, {n} items)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    save(fig, path)
    return None


def display_images(data) -> np.ndarray | None:
    """Items as images (N, H, W) or (N, H, W, 3) in [0, 1]: the source pixels for digits, else the
    training features reshaped to ``data.image_shape``; None when they are not an image."""
    shape = tuple(data.image_shape or ())
    if not shape or int(np.prod(shape)) != data.x_train.shape[1] or len(shape) not in (2, 3):
        return None
    if data.name == "digits":
        return digits_images(data.train_ids)
    x = data.x_train.reshape((len(data.x_train),) + shape).astype(np.float64)
    return _to_unit(x, shape)


def digits_images(train_ids) -> np.ndarray:
    """The digits items' source pixels (scikit-learn's bundled copy), in [0, 1]."""
    from sklearn.datasets import load_digits

    x = load_digits().images[np.asarray(train_ids)].astype(np.float64)
    return _to_unit(x, x.shape[1:])


def _to_unit(x: np.ndarray, shape) -> np.ndarray | None:
    if len(shape) == 3:
        if shape[0] in (1, 3) and shape[-1] not in (1, 3):  # channels first -> last
            x = np.moveaxis(x, 1, -1)
        if x.shape[-1] == 1:
            x = x[..., 0]
        elif x.shape[-1] != 3:
            return None
    lo = x.reshape(len(x), -1).min(1).reshape((-1,) + (1,) * (x.ndim - 1))
    hi = x.reshape(len(x), -1).max(1).reshape((-1,) + (1,) * (x.ndim - 1))
    return (x - lo) / np.maximum(hi - lo, _EPS)


def latent_labels(core: dict, images, path: Path, seed: int, limit: int = 16) -> str | None:
    """``images``: the items as ``display_images`` gives them, or None (bars of q instead)."""
    from matplotlib.figure import Figure

    names, single = core["class_names"], core["summary"]["single_label"]
    order = np.argsort(core["trust"], kind="stable")
    picked = [i for i in order if core["disagrees"][i]][:limit]
    heading = "posterior label differs from the noisy label (lowest trust first)"
    if not picked:
        picked = list(order[:limit])
        heading = "no item's posterior label differs from its noisy label; lowest-trust items"
    cols = min(4, len(picked))
    rows = -(-len(picked) // cols)
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows + 0.6) if images is not None
                 else (3.6 * cols, 2.4 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, i in zip(axes, picked):
        title = (f"{label_text(core['noisy_label'][i], names, single)} → "
                 f"{label_text(core['posterior_label'][i], names, single)}")
        color = "black"
        if core["corrupted"] is not None:
            color = "tab:red" if core["corrupted"][i] else "tab:green"
        if images is not None:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            q = core["q_y"][i]
            noisy = core["noisy_label"][i] > 0.5
            ax.bar(np.arange(len(q)), q, color=np.where(noisy, "tab:orange", "tab:blue"))
            ax.set_ylim(0, 1)
            ax.set_xticks(np.arange(len(q)))
            ax.set_xticklabels(names if len(names) <= 12 else [""] * len(names), fontsize=6,
                               rotation=90 if max(map(len, names)) > 2 else 0)
            ax.tick_params(axis="y", labelsize=6)
        ax.set_title(f"id {core['train_ids'][i]}: {title}", fontsize=8, color=color)
    for ax in axes[len(picked):]:
        ax.axis("off")
    legend = "noisy → posterior"
    if core["corrupted"] is not None:
        legend += "; title red = label was corrupted, green = label was kept"
    if images is None:
        legend += "; bars: q(y_c), orange = noisy class(es)"
    fig.suptitle(f"{heading}\n{legend}", fontsize=8)
    fig.tight_layout()
    save(fig, path)
    return None


def transitions(core: dict, images, path: Path, seed: int) -> str | None:
    from matplotlib.figure import Figure

    if core["cluster"] is None:
        return "no quality embedding z in this run"
    names = core["class_names"]
    cluster, groups = core["cluster"], int(core["cluster"].max()) + 1
    c = len(names)
    cols = min(4, groups)
    rows = -(-groups // cols)
    fig = Figure(figsize=(3.3 * cols + 0.8, 3.4 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for g, ax in enumerate(axes[:groups]):
        members = cluster == g
        ann = members[core["ann_item"]]
        # every answer of the group's items: noisy class(es) (rows) → latent class(es) (columns)
        counts = core["ann_labels"][ann].T.astype(np.float64) @ core["posterior_label"][
            core["ann_item"][ann]]
        shares = counts / np.maximum(counts.sum(1, keepdims=True), _EPS)
        im = ax.imshow(shares, vmin=0, vmax=1, cmap="Blues")
        title = f"group {g + 1}: {int(members.sum())} items"
        if core["corrupted"] is not None and members.any():
            title += f", {core['corrupted'][members].mean():.0%} corrupted"
        ax.set_title(title, fontsize=8)
        ticks = np.arange(c)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        labels = names if c <= 20 else [""] * c
        ax.set_xticklabels(labels, fontsize=6, rotation=90 if max(map(len, names)) > 2 else 0)
        ax.set_yticklabels(labels, fontsize=6)
        ax.set_xlabel("latent (posterior) label", fontsize=7)
        ax.set_ylabel("noisy label", fontsize=7)
    for ax in axes[groups:]:
        ax.axis("off")
    fig.suptitle("noisy → latent label transitions per KMeans group of the quality embedding μ "
                 "(rows sum to 1)", fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=list(axes[:groups]), shrink=0.8)
    save(fig, path)
    return None
