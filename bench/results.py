"""docs/results.md from records: every table of the page, the command that makes it, one record.

    python bench/results.py list                   # the tables, their commands, their records
    python bench/results.py run NAME               # train what NAME lacks, write its record
    python bench/results.py run cifar10n-features --root DIR    # a CIFAR-10N copy elsewhere
    python bench/results.py render                 # docs/results.md and README's summary

A table is measured by its commands (``compare``, ``sweep``, ``fit`` or a bench script), into
``runs/results/NAME/``; their grids keep every finished cell and reuse it only when its settings
equal what the command asks for now, so ``run`` resumes where it stopped. ``run`` then writes the
table's record: ``docs/results/NAME.csv`` (one row per run, read with the ``csv`` module) and
``NAME.json`` (the commit each run was trained at, the commands, the presets and their SHA-256,
the date, the machine, its load). A table too long to train here is *kept*: its CSV holds the
rows as measured at the commit it names, and ``run`` trains only a few of its cells again and
records whether they came out the same to the decimals shown. ``render`` reads the records alone
(no training, nothing else read), so the page cannot show a number its records do not hold; the
page's prose is ``docs/results/page.md``, whose ``{{NAME}}`` lines become the tables.

Trainings run one at a time, with the thread count the environment gives (``OMP_NUM_THREADS``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.results_format import (ESTIMATORS, MUSIC_ROWS, by_value,  # noqa: E402
                                  can_variant_values, can_variants, digits_methods, estimators,
                                  kept, kept_values, lowest_seed, music, music_values,
                                  parse_variance, pivot, pivot_values, protocol,
                                  protocol_values, quickstart, selection, variance)
from bench.results_records import (render_page, render_summary, run, shown,  # noqa: E402
                                   with_summary)

PAGE = ROOT / "docs" / "results.md"
README = ROOT / "README.md"


@dataclasses.dataclass(frozen=True)
class Table:
    """One table of the page: the commands that measure it and how its record reads.

    ``commands`` are (variant, command line) pairs, ``{out}`` their folder under
    ``runs/results/NAME/``; ``source`` says where a command leaves its runs (``grid``: the
    grid's results.csv; ``fit``: one run folder; ``stdout``: a script's printed table, read by
    ``parse``); ``render`` turns the record's rows into markdown, ``values`` into the README
    summary's {row: (mean, text)}. A kept table names the commit that measured it (``kept``) and
    is checked by ``check_commands`` and ``checks`` (variant, cell, metric, kept value)."""
    name: str
    title: str
    commands: tuple
    render: Callable
    values: Callable | None = None
    source: str = "grid"
    parse: Callable | None = None
    presets: tuple = ()
    seeds: str = "0, 1, 2"
    methods: str = ""
    kept: str = ""
    check_commands: tuple = ()
    checks: tuple = ()
    fields: tuple = ()  # a record's columns when not the grids' (results_records.FIELDS)


_SEL = ("python cli.py compare --methods can --noise-rates 0.6,0.8 --seeds 0,1 "
        "--val-fraction 0.1 --jobs 1 {flags} --out {{out}}")

_CIFAR = ("python bench/cifar10n_features.py --methods plain,learnq,icnm,bootstrap,can,"
          "can-transition --jobs 2 --out runs/cifar10n-features")
_CROWD = ("python bench/cifar10n_features.py --labels crowd --jobs 2 --out runs/cifar10n-features "
          "--crowd-rows "
          "can,can-worker,can-transition,crowd-layer,plain-majority,plain-dawid-skene")
_CIFAR_PRESETS = tuple(f"configs/cifar10n-features-{s}.toml"
                       for s in ("worst", "random1", "crowd", "aggre", "clean"))
_WORST = ("python cli.py fit --data cifar10n --root R --features F --labels worst --batch-size "
          "200 --lr 0.02 --epochs 30 --lr-step 10 --warmup-epochs 3 --ramp-epochs 5 "
          "--val-fraction 0.1 --seed 0 --method can --noise-init transition --hold-noise "
          "--weight-decay 0.003    # plus each row's change")
_MUSIC_P = ("--data music --val-from-test 100 --val-from-test-seed 0 --hidden 256,128 "
            "--batch-norm --dropout 0.5 --optimizer radam --schedule cosine --lr 0.01 "
            "--weight-decay 0 --batch-size 64 --epochs 50 --methods can")
_EST = ("python cli.py compare --methods can {data} --seeds 0,1,2 --val-fraction 0.1 "
        "--alpha-max {alpha} --elbo {elbo} --jobs 1 --out {{out}}")

TABLES = (
    Table("quickstart", "the quickstart: CAN on digits, P = 0.4, seed 0",
          (("", "python cli.py fit --out {out}"),), quickstart, source="fit", seeds="0",
          methods="can"),
    Table("digits-methods", "digits with shuffle noise: CAN, plain and the paper's baselines",
          (("", "python cli.py compare --methods can,plain,learnq,icnm,bootstrap --noise-rates "
                "0,0.4,0.6,0.8 --seeds 0,1,2 --jobs 1 --out {out}"),), digits_methods,
          pivot_values, methods="can, plain, learnq, icnm, bootstrap"),
    Table("digits-bernoulli", "digits: the baselines scored with per-class sigmoids",
          (("", "python cli.py compare --methods plain,learnq,bootstrap --latent bernoulli "
                "--noise-rates 0.6,0.8 --seeds 0,1,2 --jobs 1 --out {out}"),),
          pivot("test_mAP"), pivot_values, methods="plain, learnq, bootstrap"),
    Table("digits-five-seeds", "digits: CAN's spread over five seeds",
          (("", "python cli.py compare --methods can --noise-rates 0.6,0.8 --seeds 0,1,2,3,4 "
                "--jobs 1 --out {out}"),), lowest_seed, seeds="0-4", methods="can"),
    Table("digits-selection", "digits: --lam, --noise-init and --prior-init on noisy validation",
          tuple((v, _SEL.format(flags=f)) for v, f in (
              ("prior1", "--prior-init 1"), ("prior1-lam0.3", "--prior-init 1 --lam 0.3"),
              ("prior1-fixed", "--prior-init 1 --noise-init fixed"),
              ("prior1-fixed-0.6-1.2", "--prior-init 1 --noise-init fixed --copy-init 0.6 "
                                       "--label-init 1.2"),
              ("prior1.5", "--prior-init 1.5"), ("prior2", "--prior-init 2"),
              ("prior3", "--prior-init 3"), ("prior4", "--prior-init 4"))),
          selection, seeds="0, 1", methods="can"),
    Table("digits-estimators", "estimators and α_max on digits and music",
          tuple((f"{e}-{a:g}-{d}", _EST.format(elbo=e, alpha=f"{a:g}", data=data))
                for e, a, _ in ESTIMATORS for d, data in (
                    ("digits", "--noise-rates 0.6,0.8"),
                    ("music", "--data music --noise-rates 0"))),
          estimators, methods="can"),
    Table("digits-gradient-variance", "gradient variance of each --elbo at one fixed point",
          (("", "python bench/gradient_variance.py"),), variance, source="stdout",
          parse=parse_variance, seeds="0", methods="can", fields=(
              "variant", "cell", "weights", "elbo", "mean_sq", "var_one_batch",
              "var_batches", "commit")),
    Table("digits-mi-sweep", "λ with --regularizer mi, digits P = 0.6",
          (("", "python cli.py sweep --param lambda --values 0,0.2,0.5,1,2,5,10 --noise-rate 0.6 "
                "--seeds 0,1,2 --regularizer mi --val-fraction 0.1 --jobs 1 --out {out}"),),
          by_value, methods="can"),
    Table("music-published", "music, 10 seeds, each row's settings chosen on 100 clean clips",
          (("", "python bench/music_published.py --out {out}"),
           ("transition", "python cli.py compare --data music --methods can --noise-rates 0 "
                          "--seeds 0,1,2,3,4,5,6,7,8,9 --val-from-test 100 --hidden 256,128 "
                          "--batch-norm --dropout 0.5 --lr 0.01 --weight-decay 0 --epochs 90 "
                          "--noise-init transition --jobs 1 --out {out}")),
          music, music_values, presets=("configs/music-published.toml",), seeds="0-9",
          methods="plain (majority, Dawid–Skene, GLAD), crowd-layer, can"),
    Table("music-annot-mix", "music under the Annot-Mix protocol, 5 seeds, mixup 0 and 1",
          (("", "python bench/music_published.py --protocol configs/music-annot-mix.toml "
                "--mixup 0,1 --seeds 0,1,2,3,4 --out {out}"),), protocol, protocol_values,
          presets=("configs/music-annot-mix.toml",), seeds="0-4",
          methods="plain (majority, Dawid–Skene, GLAD), crowd-layer, can"),
    Table("music-annot-mix-can", "CAN's options under the Annot-Mix protocol",
          tuple((v, f"python cli.py {c} {_MUSIC_P} --jobs 1 --out {{out}}") for v, c in (
              ("default", "compare --noise-rates 0 --seeds 0,1,2,3,4"),
              ("mixup-default", "compare --mixup 1 --noise-rates 0 --seeds 0,1,2,3,4"),
              ("noise-init", "sweep --param noise-init --values transition --seeds 0,1,2,3,4"),
              ("mixup-noise-init", "sweep --mixup 1 --param noise-init --values transition "
                                   "--seeds 0,1,2,3,4"),
              ("mixup-quality-prior", "sweep --mixup 1 --param quality-prior --values worker "
                                      "--seeds 0,1,2"),
              ("mixup-transition-worker", "sweep --mixup 1 --noise-init transition --param "
                                          "quality-prior --values worker --seeds 0,1,2"))),
          can_variants, can_variant_values, seeds="0-4 (0-2 where the table says)",
          methods="can"),
    Table("cifar10n-features", "CIFAR-10N on k-means features: every method, 3 seeds",
          (("", _CIFAR),), kept, kept_values(2), presets=_CIFAR_PRESETS, kept="e313ffd",
          methods="plain, learnq, icnm, bootstrap, can, can-transition; crowd rows",
          check_commands=(("check", "python bench/cifar10n_features.py --labels worst "
                           "--methods plain,can --seeds 0 --jobs 1 --out {out}"),),
          checks=(("check", "worst-plain-P0-s0", "test_accuracy", "0.6312"),
                  ("check", "worst-plain-P0-s0", "val_noisy_accuracy", "0.470"),
                  ("check", "worst-can-P0-s0", "test_accuracy", "0.6348"),
                  ("check", "worst-can-P0-s0", "val_noisy_accuracy", "0.472"))),
    Table("cifar10n-worst-settings", "CAN's settings on CIFAR-10N worst, seed 0",
          (("", _WORST),), kept, presets=("configs/cifar10n-features-worst.toml",), seeds="0",
          kept="e313ffd", methods="can",
          check_commands=(("check", "python bench/cifar10n_features.py --labels worst "
                           "--methods can-transition --seeds 0 --jobs 1 --out {out}"),),
          checks=(("check", "worst-can-transition-prior3-P0-s0", "test_accuracy", "0.6507"),
                  ("check", "worst-can-transition-prior3-P0-s0", "val_noisy_accuracy",
                   "0.4710"))),
    Table("cifar10n-crowd", "CIFAR-10N's three answers: worker-aware CAN and the Crowd Layer",
          (("", _CROWD),), kept, kept_values(1), presets=("configs/cifar10n-features-crowd.toml",),
          kept="e313ffd", methods="can, can-worker, can-transition, crowd-layer, plain"),
)


@dataclasses.dataclass(frozen=True)
class Summary:
    """One README row: which table, which metric, which rows are CAN (the one with the lowest
    ``choose`` value when several), the baselines (key, name) and plain (key, prefix)."""
    data: str
    labels: str
    table: str
    column: str
    can: tuple
    baselines: tuple
    plain: tuple
    choose: str = ""
    can_table: str = ""
    can_column: str = ""
    can_note: str = ""


_DIGITS = (("learnq@{}", "LearnQ"), ("icnm@{}", "ICNM"), ("bootstrap@{}", "bootstrap"))
_NLL = "noisy-val answer NLL"


def _cifar(labels: str, text: str) -> Summary:
    return Summary("CIFAR-10N features", text, "cifar10n-features", "test accuracy",
                   (f"{labels}|can", f"{labels}|can-transition"),
                   tuple((f"{labels}|{m}", n) for m, n in (
                       ("learnq", "LearnQ"), ("icnm", "ICNM"), ("bootstrap", "bootstrap"))),
                   (f"{labels}|plain", ""), choose=_NLL)


SUMMARY = (
    *(Summary("digits", f"{p * 100:.0f}% shuffled", "digits-methods", "test_accuracy",
              (f"can@{p:g}",), tuple((k.format(f"{p:g}"), n) for k, n in _DIGITS),
              (f"plain@{p:g}", "")) for p in (0.4, 0.8)),
    Summary("music, 10 seeds", "2,945 crowd answers", "music-published", "test_accuracy",
            ("CAN (the defaults: worker-blind, `--elbo tracegraph`)",),
            tuple((MUSIC_ROWS[("", m, c)], n) for m, c, n in (
                ("plain", "dawid-skene", "plain on Dawid–Skene labels"),
                ("plain", "glad", "plain on GLAD labels"),
                ("crowd-layer", "model", "Crowd Layer"))),
            ("plain on majority vote", "on majority vote ")),
    Summary("music, the Annot-Mix protocol, 5 seeds", "2,945 crowd answers", "music-annot-mix",
            "test_accuracy", ("`--noise-init transition`|0",),
            tuple((f"{m}|{a}", f"{n}{' + mixup' if a else ''}") for m, n in (
                ("plain on dawid-skene", "plain on Dawid–Skene"), ("plain on glad",
                 "plain on GLAD"), ("crowd-layer", "Crowd Layer"),
                ("plain on majority", "plain on majority vote")) for a in (0, 1)),
            ("plain on majority|0", "on majority vote "), can_table="music-annot-mix-can",
            can_column="test_accuracy", can_note=" (`--noise-init transition`)"),
    _cifar("worst", "`worst` (40% wrong)"), _cifar("random1", "`random1` (17% wrong)"),
    _cifar("aggre", "`aggre` (9% wrong)"),
    Summary("CIFAR-10N features", "three answers per image", "cifar10n-crowd", "test accuracy",
            ("`can`", "`can-worker`", "`can-transition`"),
            (("`crowd-layer`", "Crowd Layer"), ("`plain-dawid-skene`", "plain on Dawid–Skene")),
            ("`plain-majority`", "on majority vote "), choose="noisy-val answer NLL"),
)




def by_name(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise SystemExit(f"no table {name!r}; tables: {', '.join(t.name for t in TABLES)}")


def render(records=None) -> tuple[str, str]:
    """(docs/results.md, README.md) as the records make them; nothing is written."""
    tables = {t.name: t for t in TABLES}
    kwargs = {"records": records} if records else {}
    return (render_page(tables, **kwargs),
            with_summary(README.read_text(), render_summary(tables, SUMMARY, **kwargs)))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the tables and their commands")
    r = sub.add_parser("run", help="train what a table lacks, write its record")
    r.add_argument("name")
    r.add_argument("--root", help="CIFAR-10N folder (default: the bench's, ../shared/...)")
    sub.add_parser("render", help="docs/results.md and README's summary from the records")
    args = p.parse_args(argv)
    if args.command == "list":
        for t in TABLES:
            kind = f"kept from {t.kept}" if t.kept else "measured by run"
            print(f"{t.name} ({kind}): {t.title}")
            for v, c in t.commands:
                print(f"    {shown(t, v, c)}")
    elif args.command == "run":
        run(by_name(args.name), args.root)
    else:
        page, readme = render()
        PAGE.write_text(page)
        README.write_text(readme)


if __name__ == "__main__":
    main()
