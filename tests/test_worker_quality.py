"""``--quality-prior worker``: a latent quality per worker. On a generated crowd (real digits
features, a few workers answering at random, the rest 80% right) its reliabilities rank every
random worker below every good one; the name runs through fit, compare and sweep."""
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_digits

from pyro_can.fitted import FittedRun
from pyro_can.config import Config
from pyro_can.feature_rows import crowd_dataset
from pyro_can.train import Trainer
from pyro_can.workers import reliability_scores, worker_report

RANDOM, GOOD = 3, 7  # workers


def generated_crowd(seed=0, answers_per_item=3):
    rng = np.random.default_rng(seed)
    d = sk_digits()
    x, y = d.data / 16.0, d.target
    order = rng.permutation(len(y))
    train, test = np.sort(order[:1200]), np.sort(order[1200:])
    rows = []
    for i in train:
        for w in rng.choice(RANDOM + GOOD, answers_per_item, replace=False):
            right = w >= RANDOM and rng.random() < 0.8
            label = y[i] if right else rng.integers(10)
            rows.append((i, w, label))
    return crowd_dataset("generated-crowd", x, np.array(rows), y, train, test,
                         [str(c) for c in range(10)], where="generated crowd")


def test_worker_reliabilities_separate_random_workers_from_good_ones():
    data = generated_crowd()
    cfg = Config(epochs=20, hidden="64", quality_prior="worker", seed=0)
    tr = Trainer(cfg, data)
    tr.run()
    rows = worker_report(FittedRun.of_trainer(tr, {}))
    assert [r["worker"] for r in rows] == list(range(RANDOM + GOOD))
    rel = np.array([r["reliability"] for r in rows])
    assert rel[:RANDOM].max() < rel[RANDOM:].min(), rel
    truth = np.array([r["truth_accuracy"] for r in rows])
    assert truth[:RANDOM].max() < 0.2 < 0.7 < truth[RANDOM:].min()  # the crowd is as planted
    scores = reliability_scores(rows)
    assert scores["worker_reliability_spearman"] > 0.6, scores


def test_worker_blind_can_is_the_default_and_has_no_worker_parameters():
    data = generated_crowd(answers_per_item=2)
    assert Config().quality_prior == "standard"
    assert Trainer(Config(epochs=1, hidden="8"), data).guide.workers is None
    tr = Trainer(Config(epochs=1, hidden="8", quality_prior="worker"), data)
    assert tr.guide.workers.loc.shape == (RANDOM + GOOD + 1, 4)  # + the unknown-worker slot
    # one set of q(μ_w) parameters, the guide's: the model holds the priors only
    assert "workers" not in dict(tr.model.named_children())


def test_quality_prior_worker_needs_z(cli, tmp_path):
    code, _, err = cli("fit", "--data", "music", "--quality-prior", "worker", "--quality-dim",
                       "0", "--epochs", "1", "--out", tmp_path / "r")
    assert code != 0 and "--quality-dim" in err


def test_fit_reports_worker_reliability_against_the_truth_on_music(cli, tmp_path):
    run = tmp_path / "r"
    code, _, err = cli("fit", "--data", "music", "--quality-prior", "worker", "--epochs", "8",
                       "--out", run)
    assert code == 0, err
    m = json.loads((run / "metrics.json").read_text())
    assert -1.0 <= m["worker_reliability_spearman"] <= 1.0
    assert -1.0 <= m["worker_agreement_spearman"] <= 1.0
    header = (run / "workers.csv").read_text().splitlines()[0].split(",")
    assert {"reliability", "truth_accuracy"} <= set(header)


def test_fit_scores_the_cleaned_labels_against_music_truth(cli, tmp_path):
    """Music's answers are 56% right and their majority vote 69%; CAN's posterior reads every
    answer with the classifier's judgement and must beat the vote (0.79 at the default 90 epochs;
    20 here). Reported only: the metric reads the true labels, which training never does."""
    run = tmp_path / "r"
    code, out, err = cli("fit", "--data", "music", "--epochs", "20", "--out", run)
    assert code == 0, err
    m = json.loads((run / "metrics.json").read_text())
    assert abs(m["train_given_label_accuracy"] - 0.69) < 0.01  # the vote, ties seeded
    assert m["train_cleaned_label_accuracy"] > m["train_given_label_accuracy"] + 0.03, m
    assert "training labels right: given 0.69" in out


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_worker_quality_runs_through_compare_and_sweep(cli, tmp_path, command):
    out = tmp_path / command
    args = ["--data", "music", "--epochs", "2", "--warmup-epochs", "1", "--seeds", "0",
            "--out", out]
    if command == "compare":  # ignored by the methods without a quality z
        args += ["--methods", "can,plain", "--quality-prior", "worker", "--noise-rates", "0"]
    else:
        args += ["--methods", "can", "--param", "quality-prior", "--values", "standard,worker"]
    code, _, err = cli(command, *args)
    assert code == 0, err
    import csv

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 2 and all(r["test_accuracy"] for r in rows)
    spearman = [r["worker_reliability_spearman"] for r in rows]
    assert all(spearman), rows  # every cell scored its workers against music's truth


def test_estimator_with_worker_quality_saves_and_loads(tmp_path):
    from pyro_can.estimator import CANClassifier

    data = generated_crowd(answers_per_item=2)
    rows = [(i, f"w{w}", lab) for i, w, lab in zip(
        data.ann_item, data.ann_worker, data.ann_labels.argmax(1))]
    est = CANClassifier(epochs=2, hidden="16", quality_prior="worker").fit(data.x_train,
                                                                           annotations=rows)
    loaded = CANClassifier.load(est.save(tmp_path / "run"))
    np.testing.assert_array_equal(loaded.predict_proba(data.x_test), est.predict_proba(data.x_test))


def test_a_checkpoint_with_the_models_worker_parameters_loads_into_the_guide():
    """Checkpoints written while q(μ_w), q(d_w) sat in the model (``model.workers``, which the
    guide held too) resume with the same weights and optimizer state: the parameters are the
    guide's now, in the same place of the optimizer's order."""
    import torch

    data = generated_crowd(answers_per_item=2)
    common = dict(hidden="8", quality_prior="worker", warmup_epochs=0, ramp_epochs=0)
    src = Trainer(Config(epochs=1, **common), data)
    src.run()
    state = src.state_dict()
    old = dict(state["nets"])
    old.update({"model." + k[len("guide."):]: v for k, v in state["nets"].items()
                if k.startswith("guide.workers.")})
    assert any(k.startswith("model.workers.") for k in old)
    dst = Trainer(Config(epochs=2, seed=1, **common), data)
    dst.load_state_dict({**state, "nets": old})
    for (k, a), (_, b) in zip(src.programs.state_dict().items(),
                              dst.programs.state_dict().items()):
        assert torch.equal(a, b), k
    # the optimizer's state, kept by position, meets each parameter it was written for
    momentum = {n: src.optimizer.state[p].get("momentum_buffer")
                for n, p in src.programs.named_parameters()}
    assert momentum["guide.workers.loc"] is not None
    for n, p in dst.programs.named_parameters():
        got = dst.optimizer.state[p].get("momentum_buffer")
        assert (got is None and momentum[n] is None) or torch.equal(got, momentum[n]), n
