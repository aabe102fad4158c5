"""Finding wrong labels: the bench's scoring (bench/label_issues.py), its anchors' calls into
cleanlab and crowd-kit, the trust of the given label and the cross-fitted posterior."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import label_issues as bench  # noqa: E402

from pyro_can.api import load_data  # noqa: E402
from pyro_can.config import Config  # noqa: E402
from pyro_can.posterior import expected_wrong, given_trust, item_trust  # noqa: E402


def test_scores_of_a_planted_ranking():
    wrong = np.array([True, True, False, False, False, False])
    quality = np.array([0.1, 0.5, 0.3, 0.6, 0.7, 0.8])
    s = bench.ranking_scores(wrong, quality)
    # 8 (wrong, right) pairs; 0.5 ranks above the right 0.3 only: 7/8
    assert s["auc"] == pytest.approx(7 / 8)
    assert s["ap"] == pytest.approx((1 + 2 / 3) / 2)  # hits at ranks 1 and 3
    assert s["p_at_k"] == pytest.approx(0.5)  # k = 2: 0.1 (wrong) and 0.3 (right)
    flagged = bench.lowest(quality, 3)
    assert flagged.tolist() == [True, True, True, False, False, False]
    assert bench.flagged_scores(wrong, flagged) == {"flagged": 3, "precision": 2 / 3,
                                                    "recall": 1.0}


def test_given_trust_scores_the_voted_label_not_the_mean_answer():
    q = np.array([[0.9, 0.1], [0.2, 0.8]])
    ann_item = np.array([0, 0, 0, 1])
    ann_labels = np.eye(2)[[0, 0, 1, 1]]
    given = np.eye(2)[[0, 1]]
    np.testing.assert_allclose(given_trust(q, given, True), [0.9, 0.8])
    np.testing.assert_allclose(item_trust(q, ann_item, ann_labels, True),
                               [(0.9 + 0.9 + 0.1) / 3, 0.8])
    assert expected_wrong(np.array([0.9, 0.8, np.nan])) == pytest.approx(0.3)


def _small_music(n=120):
    data, _ = load_data(Config(data="music").validate())
    return data.subset(np.arange(n))


def _fake_probs(data, seed=0):
    rng = np.random.default_rng(seed)
    shape = (data.num_items, data.num_classes)
    return {k: (data.y_train_clean + rng.random(shape)).astype(np.float32)
            for k in ("q", "p", "plain", "cf_q", "cf_p")}


def test_cleanlab_rows_read_the_out_of_fold_probabilities(monkeypatch):
    pytest.importorskip("cleanlab")
    import cleanlab.filter
    import cleanlab.rank

    data, _ = load_data(Config(data="digits", noise_rate=0.4).validate())
    probs = _fake_probs(data)
    seen = []
    real = cleanlab.rank.get_label_quality_scores

    def spy(labels, pred_probs, **kw):
        seen.append(pred_probs)
        return real(labels, pred_probs, **kw)

    monkeypatch.setattr(cleanlab.rank, "get_label_quality_scores", spy)
    res = bench.evaluate(data, probs)
    plain = probs["plain"] / probs["plain"].sum(1, keepdims=True)
    cf = probs["cf_p"] / probs["cf_p"].sum(1, keepdims=True)
    # three methods on the out-of-fold plain probabilities, self-confidence on CAN's
    assert len(seen) == 4
    for got in seen[:3]:
        np.testing.assert_allclose(got, plain, rtol=1e-6)
    np.testing.assert_allclose(seen[3], cf, rtol=1e-6)
    rows = res["items"]
    assert ("cleanlab self_confidence", "out-of-fold plain") in rows
    assert ("cleanlab self_confidence", "out-of-fold CAN p") in rows
    # the same scores as cleanlab's own call
    given = data.item_labels(np.random.default_rng(0)).argmax(1)
    wrong = given != data.y_train_clean.argmax(1)
    direct = real(given, plain, method="normalized_margin")
    assert rows[("cleanlab normalized_margin", "out-of-fold plain")] == \
        bench.ranking_scores(wrong, direct)


def test_crowd_rankings_have_one_row_per_answer_and_per_item():
    pytest.importorskip("cleanlab")
    pytest.importorskip("crowdkit")
    data = _small_music()
    probs = _fake_probs(data)
    cl = bench.crowdlab(data, probs["plain"] / probs["plain"].sum(1, keepdims=True))
    assert cl["answer"].shape == (data.num_annotations,)
    assert cl["consensus_quality"].shape == (data.num_items,)
    assert set(cl["workers"]) == set(np.unique(data.ann_worker))
    ck = bench.crowdkit_posteriors(data)
    assert ck["dawid-skene"].shape == ck["glad"].shape == (data.num_items, data.num_classes)
    np.testing.assert_allclose(ck["dawid-skene"].sum(1), 1.0, atol=1e-6)
    res = bench.evaluate(data, probs)
    assert res["counts"]["items"] == data.num_items
    assert res["counts"]["answers"] == data.num_annotations
    assert ("CROWDLAB detailed label quality", "out-of-fold plain + answers") in res["answers"]
    assert ("CAN answer trust", "in-sample q") in res["answers"]
    assert ("CAN given-label trust", "out-of-fold q") in res["items"]
    for rows in res["workers"].values():
        assert rows["workers"] >= 3
    text = bench.table("music", [res])
    assert "per answer" in text and "worker reliability" in text


def test_cross_fitted_scores_every_item_with_a_model_that_never_saw_it(monkeypatch):
    from pyro_can import posterior as post_mod
    from pyro_can import train

    cfg = Config(data="digits", noise_rate=0.4, epochs=1, hidden="16", warmup_epochs=0.0,
                 ramp_epochs=0.0).validate()
    data, _ = load_data(cfg)
    data = data.subset(np.arange(150))
    trained, scored = [], []
    real_init, real_posterior = train.Trainer.__init__, post_mod.posterior

    def init(self, cfg, d, val=None):
        trained.append(set(d.train_ids.tolist()))
        real_init(self, cfg, d, val)

    def spy(trainer, chunk=4096, data=None):
        scored.append(set(data.train_ids.tolist()))
        return real_posterior(trainer, chunk, data)

    monkeypatch.setattr(train.Trainer, "__init__", init)
    monkeypatch.setattr(post_mod, "posterior", spy)
    out = post_mod.cross_fitted(cfg, data, folds=3, seed=0)
    assert out["q_y"].shape == out["prior"].shape == (150, data.num_classes)
    np.testing.assert_allclose(out["q_y"].sum(1), 1.0, atol=1e-4)
    assert len(trained) == len(scored) == 3
    for fit, held in zip(trained, scored):
        assert not fit & held  # no item scored by a model that trained on it
    assert set().union(*scored) == set(data.train_ids.tolist())


def test_anchor_issue_share_recovers_the_wrong_share_from_exact_rates():
    from pyro_can.labels import anchor_issue_share, issue_count

    rng = np.random.default_rng(0)
    c, n = 4, 4000
    truth = rng.choice(c, n, p=[0.4, 0.3, 0.2, 0.1])
    given = truth.copy()
    flip = rng.random(n) < 0.3
    given[flip] = (truth[flip] + rng.integers(1, c, flip.sum())) % c
    g = np.eye(c)[given]
    hit = np.array([(given[truth == k] == k).mean() for k in range(c)])
    fa = np.array([(given[truth != k] == k).mean() for k in range(c)])
    wrong_share = np.array([(truth[given == k] != k).mean() for k in range(c)])
    np.testing.assert_allclose(anchor_issue_share(g, hit, fa), wrong_share, atol=1e-9)
    answered = np.ones(n, bool)
    count = issue_count(g, np.full(n, 0.99), answered, True, True,
                        {"label_hit": hit, "label_false_alarm": fa})
    assert count == (given != truth).sum()
    # without the anchor estimate (or with several answers per item): Σ (1 − trust)
    assert issue_count(g, np.full(n, 0.99), answered, True, False,
                       {"label_hit": hit, "label_false_alarm": fa}) == 40


def test_table_flags_the_lowest_trust_as_many_as_estimated():
    from pyro_can.labels import table

    q = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    given = np.eye(2)[[0, 0, 0, 1, 0]]
    answered = np.array([True, True, True, True, False])
    t = table(given, q, True, answered, True)
    np.testing.assert_allclose(t["trust"][:4], [0.9, 0.4, 0.7, 0.8])
    assert np.isnan(t["trust"][4])
    # Σ (1 − trust) = 0.1 + 0.6 + 0.3 + 0.2 = 1.2: one issue, the least trusted answered item
    assert t["is_label_issue"].tolist() == [False, True, False, False, False]
