"""Options are declared once (``*_options.py``, joined in ``config.py``): every declaration
reaches the CLI, the estimator, validation and the sections; the resolution step refuses what
does not apply (a table over methods × options); presets and the command line combine in one
order."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from pyro_can import registry, sections
from pyro_can.config import EXPERT_FIELDS, FIELDS, RULES, SOURCE_FIELDS, Config
from pyro_can.errors import OptionError
from pyro_can.estimator import CANClassifier, PlainClassifier
from pyro_can.resolution import for_method, resolve
from pyro_can.rules import Choice, Device, Interval, Text, Widths

SINGLE = SimpleNamespace(single_label=True, has_crowd=False)  # what resolve reads of the data
METHODS = tuple(registry.METHODS)


def _bad_value(name):
    """A value the option's rule must refuse."""
    rule = RULES.get(name)
    if rule is None:
        return "yes"  # a flag takes true or false only
    if isinstance(rule, Choice):
        return "no-such-name"
    if isinstance(rule, Interval):
        return rule.hi + 1 if rule.hi is not None else (rule.lo - 1 if rule.lo is not None
                                                        else float("nan"))
    if isinstance(rule, (Text, Widths, Device)):
        return 3.5
    raise AssertionError(f"no bad value for {type(rule).__name__}")


@pytest.fixture(scope="module")
def fit_params():
    from pyro_can.cli import main

    return {p.name: p for p in main.commands["fit"].params}


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_declared_option_reaches_the_cli_the_estimator_and_validation(name, fit_params):
    f = FIELDS[name]
    assert f.metadata["help"], f"{name}: declare its help text"
    # the CLI: one option of the same name, its default, hidden from --help when expert
    option = fit_params[name]
    assert option.default == f.default and option.hidden == f.metadata["expert"]
    assert option.opts[0] == f"--{name.replace('_', '-')}"
    # the estimator: a constructor argument with the same default, and in its numpydoc
    params = CANClassifier().get_params()
    if name in SOURCE_FIELDS:
        assert name not in params
    else:
        assert params[name] == f.default
        assert f"    {name} : " in CANClassifier.__doc__
    # validation: its rule refuses a bad value, naming the option
    with pytest.raises(OptionError, match=f"--{name.replace('_', '-')}"):
        Config(**{name: _bad_value(name)}).validate()
    # the sections: exactly one holds it
    where = sections.field_sections()[name]
    assert where in sections.SECTIONS


def test_the_estimators_defaults_are_the_declared_ones_but_plains_method():
    assert PlainClassifier().get_params() == {**CANClassifier().get_params(), "method": "plain"}


def test_fit_help_lists_at_most_30_options(cli):
    code, out, _ = cli("fit", "--help")
    listed = [line for line in out.splitlines() if line.startswith("  --")]
    assert code == 0 and len(listed) <= 30
    for name in EXPERT_FIELDS:  # named in the epilog, not listed as options
        assert f"--{name.replace('_', '-')} " not in "\n".join(listed)
        assert name in out
    code, out, _ = cli("options", "--expert")
    assert code == 0 and all(f"{n} = " in out for n in EXPERT_FIELDS)


@pytest.mark.parametrize("command", ["compare", "sweep", "tune"])
def test_grid_and_search_help_list_at_most_30_options(cli, command):
    code, out, _ = cli(command, "--help")
    listed = [line for line in out.splitlines() if line.startswith("  --")]
    assert code == 0 and len(listed) <= 30
    for name in EXPERT_FIELDS:  # as in fit: named in the epilog, not listed as options
        assert f"--{name.replace('_', '-')} " not in "\n".join(listed)
        assert name in out


# -- resolution: which option applies to which method ------------------------------------------
CAN_ONLY = {"can"}
ALL = set(METHODS)
#: option -> (a value other than its default, the methods it applies to under the defaults)
APPLIES = {
    "guide": ("additive", CAN_ONLY), "prior": ("uniform", CAN_ONLY),
    "decoder": ("linear", CAN_ONLY), "prior_judgement": ("separate", CAN_ONLY),
    "quality_dim": (2, CAN_ONLY), "quality_prior": ("worker", CAN_ONLY),
    "kl_z_weight": (0.5, CAN_ONLY), "noise_init": ("fixed", CAN_ONLY),
    "hold_noise": (True, CAN_ONLY), "prior_init": (3.0, CAN_ONLY),
    "ytilde_likelihood": ("bernoulli", CAN_ONLY), "lam": (0.1, CAN_ONLY),
    "regularizer": ("mi", CAN_ONLY), "elbo": ("meanfield", ALL),
    "beta": (0.5, {"bootstrap"}), "bootstrap": ("hard", {"bootstrap"}),
    "learnq_trace": (0.1, {"learnq"}),
    "warmup_epochs": (4.0, {"can", "icnm"}), "ramp_epochs": (2.0, {"can", "icnm"}),
    "alpha_max": (1.0, {"can", "icnm"}), "warmup_scope": ("classifier", {"can", "icnm"}),
    "latent": ("categorical", ALL - {"icnm"}),
    # under the defaults (--elbo tracegraph, --noise-init anchor) these do nothing at all
    "tau_start": (2.0, set()), "tau_end": (0.2, set()),
    "copy_init": (3.0, set()), "label_init": (3.0, set()),
    # every method
    "epochs": (3, ALL), "lr": (0.05, ALL), "hidden": ("64", ALL), "batch_size": (10, ALL),
    "weight_decay": (0.01, ALL), "dropout": (0.1, ALL), "batch_norm": (True, ALL),
    "momentum": (0.5, ALL), "seed": (3, ALL), "val_fraction": (0.1, ALL),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(APPLIES))
def test_an_option_set_where_it_does_not_apply_is_refused(method, name):
    value, applies = APPLIES[name]
    cfg = Config(method=method, **{name: value}).validate()
    if method in applies:
        assert getattr(resolve(cfg, SINGLE), name) == value
    else:
        with pytest.raises(OptionError, match=f"--{name.replace('_', '-')}"):
            resolve(cfg, SINGLE)


@pytest.mark.parametrize("changes, name", [
    (dict(elbo="meanfield", tau_start=2.0), None),  # τ: the relaxed y's temperature
    (dict(elbo="meanfield", baseline="nn"), "baseline"),  # no score function to baseline
    (dict(elbo="tracegraph", baseline="nn"), None),
    (dict(noise_init="fixed", copy_init=3.0, label_init=1.0), None),
    (dict(warmup_epochs=0.0, copy_init=3.0), None),  # no warm-up: no hand-over replaces it
    (dict(warmup_scope="classifier", copy_init=3.0), None),  # the decoder trains in the warm-up
    (dict(optimizer="adam", momentum=0.5), "momentum"),
    (dict(guide="additive", prior_init=3.0), "prior_init"),  # the additive guide has no layer
    (dict(data="npz", path="x.npz"), None), (dict(path="x.npz"), "path"),
    (dict(labels="worst"), "labels"), (dict(weights="w.pt"), "weights"),
])
def test_what_applies_depends_on_the_other_options(changes, name):
    cfg = Config(**changes)
    if name is None:
        assert resolve(cfg, SINGLE).to_dict().items() >= changes.items()
    else:
        with pytest.raises(OptionError, match=f"--{name.replace('_', '-')} .* does not apply"):
            resolve(cfg, SINGLE)


def test_the_refusal_names_the_option_the_method_and_why():
    with pytest.raises(OptionError) as e:
        resolve(Config(method="plain", quality_prior="worker"), SINGLE)
    assert str(e.value) == ("--quality-prior worker does not apply to --method plain here: "
                            "only --method can has it")
    with pytest.raises(OptionError, match="--beta 0.5 does not apply to --method can here: "
                                          "only --method bootstrap has a bootstrap target"):
        resolve(Config(beta=0.5), SINGLE)
    with pytest.raises(OptionError, match="--tau-start 2.0 .*--elbo meanfield or trace"):
        resolve(Config(tau_start=2.0), SINGLE)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data", [SINGLE, SimpleNamespace(single_label=True, has_crowd=True),
                                  SimpleNamespace(single_label=False, has_crowd=False)])
def test_defaults_and_resolved_values_never_count_as_set(method, data):
    cfg = resolve(Config(method=method), data)  # defaults: nothing to refuse
    assert not cfg.unresolved() and resolve(cfg, data) == cfg  # read back: unchanged
    # a run folder of a grid keeps shared options that did not concern its method
    shared = dataclasses.replace(cfg, beta=0.3, quality_prior="worker", learnq_trace=0.5)
    assert resolve(shared, data) == shared


def test_shared_settings_are_dropped_for_the_methods_they_do_not_concern():
    base = Config(beta=0.5, quality_dim=2, warmup_epochs=3.0, lr=0.05)
    assert for_method(base, "plain") == Config(method="plain", lr=0.05)
    assert for_method(base, "bootstrap") == Config(method="bootstrap", beta=0.5, lr=0.05)
    assert for_method(base, "can") == Config(quality_dim=2, warmup_epochs=3.0, lr=0.05)
    assert for_method(base, "icnm", shared=["beta"]).quality_dim == 2  # only those named
    # a resolved CAN run's config, switched to plain (inspect's cleanlab folds), resolves again
    can = resolve(Config(lam=0.1, quality_prior="worker", noise_init="transition",
                         hold_noise=True, elbo="meanfield", tau_end=0.3), SINGLE)
    plain = resolve(for_method(can, "plain"), SINGLE)
    assert plain.method == "plain" and plain.elbo == "meanfield" and plain.lam == 0.0


# -- presets -------------------------------------------------------------------------------------
def _printed(cli, *args) -> dict:
    import tomllib

    code, out, err = cli("fit", *args, "--print-config")
    assert code == 0, err
    return tomllib.loads(out)


def test_command_line_overrides_set_overrides_the_row_overrides_the_preset(cli, tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('epochs = 3\nlr = 0.05\nbeta = 0.4\n[rows.can]\nlr = 0.02\n'
                      '[rows.wide]\nmethod = "plain"\nhidden = "64,8"\n')
    assert _printed(cli, "--config", preset)["lr"] == 0.02  # the method's row
    assert _printed(cli, "--config", preset, "--method", "plain")["lr"] == 0.05  # no row
    assert _printed(cli, "--config", preset, "--set", "lr=0.04")["lr"] == 0.04
    both = _printed(cli, "--config", preset, "--set", "lr=0.04", "--lr", "0.03")
    assert both["lr"] == 0.03 and both["epochs"] == 3
    row = _printed(cli, "--config", f"{preset}:wide")
    assert row["method"] == "plain" and row["hidden"] == "64,8" and row["epochs"] == 3
    # a shared option that does not concern the method is dropped for it, not refused
    assert _printed(cli, "--config", preset)["beta"] == 0.8
    assert _printed(cli, "--config", preset, "--method", "bootstrap")["beta"] == 0.4
    # ... but one meant for this run is refused
    code, _, err = cli("fit", "--config", preset, "--set", "beta=0.3", "--print-config")
    assert code == 2 and "--beta 0.3 does not apply to --method can" in err


def test_print_config_reads_back_as_the_same_config(cli, tmp_path):
    first = _printed(cli, "--epochs", "4", "--set", "noise_init=transition", "--lam", "0.1")
    assert first["noise_init"] == "transition" and first["latent"] == "categorical"
    assert first["warmup_epochs"] == 20.0  # resolved against the data
    _, out, _ = cli("fit", "--epochs", "4", "--set", "noise_init=transition", "--lam", "0.1",
                    "--print-config")
    (tmp_path / "r.toml").write_text(out)
    assert _printed(cli, "--config", tmp_path / "r.toml") == first


@pytest.mark.parametrize("text, message", [
    ("nosuch = 1\n", "unknown option(s) 'nosuch'"),
    ("lr = -1\n", "--lr: must be a number > 0, got -1"),
    ("lr = [\n", "not valid TOML"),
    ("[rows.can]\nlr = 'fast'\n", "--lr: must be a number > 0, got 'fast'"),
])
def test_a_bad_preset_is_one_clear_error(cli, tmp_path, text, message):
    preset = tmp_path / "bad.toml"
    preset.write_text(text)
    code, _, err = cli("fit", "--config", preset, "--epochs", "1", "--out", tmp_path / "run")
    assert code == 2 and message in err and str(preset) in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_set_takes_any_option_by_its_rule(cli):
    assert _printed(cli, "--set", "hold-noise=true", "--set", "tau_end=0.3",
                    "--set", "elbo=meanfield")["tau_end"] == 0.3
    for bad, message in (("nosuch=1", "expected KEY=VALUE"), ("lr", "expected KEY=VALUE"),
                         ("lr=x", "--set --lr: must be a number"),
                         ("hold_noise=maybe", "must be true or false")):
        code, _, err = cli("fit", "--set", bad, "--print-config")
        assert code == 2 and message in err, err


def test_shipped_presets_load_and_every_row_applies():
    from pyro_can import presets

    assert {"music-published", "cifar10n-features-worst", "cifar10n-features-crowd"} <= set(
        presets.names())
    for name in presets.names():
        p = presets.read(name)
        for row in [None, *p.rows]:
            cfg = p.config(row)
            data = SimpleNamespace(single_label=True, has_crowd=cfg.crowd == "model"
                                   and cfg.data == "music" or cfg.labels == "crowd")
            resolve(cfg, data)  # nothing in a row is refused


def test_a_preset_name_is_a_file_in_configs(cli):
    row = _printed(cli, "--config", "music-published:plain-dawid-skene")
    assert (row["data"], row["crowd"], row["lr"], row["epochs"]) == ("music", "dawid-skene",
                                                                     0.05, 90)
    code, _, err = cli("fit", "--config", "no-such-preset", "--print-config")
    assert code == 2 and "no such file or preset" in err and "music-published" in err


def test_cli_refuses_an_option_that_does_not_apply_before_any_work(cli, tmp_path):
    code, _, err = cli("fit", "--method", "plain", "--quality-prior", "worker", "--epochs", "1",
                       "--out", tmp_path / "run")
    assert code == 2 and "--quality-prior worker does not apply to --method plain" in err
    assert not (tmp_path / "run").exists()
