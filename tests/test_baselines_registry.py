"""Baselines, the name registry, and the compare grid."""
import csv
import json

import numpy as np
import pytest
import torch

from pyro_can import api, registry
from pyro_can.batch import StepParams
from pyro_can.config import Config
from pyro_can.feature_loaders import load_digits, load_music
from pyro_can.errors import UnknownNameError
from pyro_can.train import Trainer


@pytest.mark.parametrize("method", ["learnq", "icnm", "bootstrap"])
def test_baseline_beats_chance(method):
    res = api.fit(Config(method=method, epochs=12, noise_rate=0.4))
    assert res.metrics["test_mAP"] > 0.6  # chance is about 0.1 on ten balanced classes


def test_learnq_matrix_stays_row_stochastic():
    res = api.fit(Config(method="learnq", epochs=3, noise_rate=0.6))
    q = res.model.noise_adaptation.matrix().detach()
    assert torch.all(q >= 0)
    torch.testing.assert_close(q.sum(1), torch.ones(10))


def test_bootstrap_beta_one_is_plain():
    a = api.fit(Config(method="plain", epochs=3, noise_rate=0.4, seed=1))
    b = api.fit(Config(method="bootstrap", beta=1.0, epochs=3, noise_rate=0.4, seed=1))
    assert abs(a.metrics["test_mAP"] - b.metrics["test_mAP"]) < 1e-6


def _one_step(cfg):
    """Every network gets a finite gradient once α > 0; during the pure warm-up (α = 0) the
    classifier does (the objective runs the warm-up likelihood alone) and nothing is non-finite."""
    per_worker = registry.METHODS[cfg.method].workers  # needs crowd answers with their workers
    for alpha in (0.0, 0.5):
        tr = Trainer(cfg, load_music() if per_worker else load_digits(seed=0, noise_rate=0.4))
        loss = tr.step(tr.train_set.batch(torch.arange(8)), StepParams(0.5, alpha, 0.3))
        assert np.isfinite(loss)
        for name, p in tr.programs.named_parameters():
            if alpha == 0.0 and not name.startswith("model.classifier"):
                assert p.grad is None or torch.isfinite(p.grad).all(), (name, alpha)
                continue
            assert p.grad is not None and torch.isfinite(p.grad).all(), (name, alpha)


@pytest.mark.parametrize("method", sorted(registry.METHODS))
def test_every_method_name_runs_one_step(method):
    _one_step(Config(method=method, epochs=1))


@pytest.mark.parametrize("guide", sorted(registry.GUIDES))
@pytest.mark.parametrize("prior", registry.PRIORS)
def test_every_guide_and_prior_runs_one_step(guide, prior):
    _one_step(Config(guide=guide, prior=prior, epochs=1))


@pytest.mark.parametrize("change", [{"decoder": "linear"}, {"quality_dim": 0},
                                    {"prior_judgement": "separate"}, {"elbo": "tracegraph"},
                                    {"elbo": "tracegraph", "baseline": "nn"}, {"elbo": "enum"},
                                    {"elbo": "trace"}, {"regularizer": "mi"},
                                    {"warmup_scope": "classifier"}])
def test_other_parts_run_one_step(change):
    _one_step(Config(epochs=1, **change))


def test_unknown_name_lists_known_names():
    with pytest.raises(UnknownNameError, match="unknown guide 'x'; known: can, additive, mean-field"):
        Config(guide="x").validate()
    with pytest.raises(UnknownNameError, match="known: mlp, linear"):
        Config(decoder="deep").validate()


def test_compare_resumes_and_writes_one_row_per_cell(cli, tmp_path):
    out = tmp_path / "cmp"
    args = ("compare", "--methods", "plain,bootstrap", "--noise-rates", "0,0.6", "--seeds", "0",
            "--epochs", "2", "--out", out)
    code, stdout, err = cli(*args)
    assert code == 0, err
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 4
    assert {"method", "guide", "prior", "noise_rate", "seed", "test_mAP", "test_accuracy",
            "seconds"} <= set(rows[0])
    assert (out / "table.md").exists() and (out / "map_vs_noise.png").stat().st_size > 1000
    cell = out / "cells" / "plain-P0.6-s0" / "metrics.json"
    stamp = cell.stat().st_mtime_ns
    code, stdout, err = cli(*args[:-1], out)  # same grid again: nothing re-runs
    assert code == 0 and cell.stat().st_mtime_ns == stamp
    assert len(list(csv.DictReader(open(out / "results.csv")))) == 4
    assert "**" in (out / "table.md").read_text()


def test_sweep_train_fraction(cli, tmp_path):
    code, _, err = cli("sweep", "--param", "train-fraction", "--values", "0.25,1", "--seeds", "0",
                       "--methods", "plain", "--epochs", "1", "--out", tmp_path / "sw")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "sw" / "results.csv")))
    items = [json.load(open(f"{r['run_dir']}/metrics.json"))["train_items"] for r in rows]
    assert items[0] < items[1] / 3


def test_sweep_unknown_param(cli, tmp_path):
    code, _, err = cli("sweep", "--param", "depth", "--values", "1", "--out", tmp_path / "sw")
    assert code == 2 and "unknown sweep parameter 'depth'" in err
