"""CLI commands for posterior inspection: ``inspect RUN`` and ``posterior RUN --item ID``.

Standalone click commands; ``pyro_can.cli`` adds them to its group with ``main.add_command``."""
from __future__ import annotations

import json

import click

from .cli_errors import user_errors
from .cli_types import RuleType
from .config import RULES
from .rules import Interval


CLUSTERS = RuleType(Interval(1, 1000, kind=int))
SEED = RuleType(RULES["seed"])


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


@click.command(name="inspect")
@click.argument("run_dir", type=click.Path())
@click.option("--clusters", type=CLUSTERS, default=4, show_default=True,
              help="KMeans groups of the quality embedding for transitions.png "
                   f"({CLUSTERS.rule.describe()})")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help=f"seed of t-SNE, KMeans and the cleanlab folds ({SEED.rule.describe()})")
@click.option("--no-cleanlab", "no_cleanlab", is_flag=True,
              help="skip the cleanlab comparison (it trains the plain method on 3 folds)")
@user_errors
def inspect_command(run_dir, clusters, seed, no_cleanlab):
    """Posterior inspection of a finished run: per-item trust, suspect labels, figures
    (written to RUN/inspect/)."""
    from .inspection import write_report

    result = write_report(run_dir, clusters=clusters, seed=seed, with_cleanlab=not no_cleanlab,
                          on_step=lambda msg: click.echo(msg, err=True))
    s = result["summary"]
    head = f"inspected {s['items']} items ({s['method']}, {s['data']})"
    if s["corruption_known"]:
        head += f", {s['corrupted']} with corrupted labels"
    click.echo(head)
    click.echo(f"posterior label differs from the noisy label for {s['disagreements']} items")
    t, c = s["trust"], s["cleanlab"]
    if s["corruption_known"]:
        click.echo(f"finding corrupted labels: ROC-AUC trust {_fmt(t['roc_auc'])}"
                   + (f", cleanlab {_fmt(c.get('roc_auc'))}" if c.get("available") else ""))
        click.echo(f"precision@{t['k']}: trust {_fmt(t['precision_at_k'])}"
                   + (f", cleanlab {_fmt(c.get('precision_at_k'))}" if c.get("available") else ""))
    else:
        click.echo("which labels are wrong cannot be known: the data set carries no true "
                   "training labels and the run applied no artificial noise (a .npz can carry "
                   "them as 'y_true'); trust is CAN's belief, not a measured error")
    if c.get("available") and "flagged" in c:
        click.echo(f"cleanlab flags {c['flagged']} items")
    names = result["class_names"]
    order = result["trust"].argsort(kind="stable")[:5]
    worst = ", ".join(f"{result['train_ids'][i]} ({_label(result['noisy_label'][i], names)} → "
                      f"{_label(result['posterior_label'][i], names)})" for i in order)
    click.echo(f"most suspect ids (noisy → posterior): {worst}")
    for warning in (s.get("posterior_health") or {}).get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    for note in s["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"results in {s['out']}/ ({', '.join(s['files'])})")
    if "report" in s:
        skipped = s["report"]["thumbnails_skipped"]
        click.echo(f"report: {s['report']['path']}" + (f" (no thumbnails: {skipped})"
                                                        if skipped else ""))


def _label(row, names) -> str:
    on = [names[c] for c in range(len(names)) if row[c] > 0.5]
    return "+".join(on) if on else "(none)"


@click.command(name="posterior")
@click.argument("run_dir", type=click.Path())
@click.option("--item", "item_id", type=int, required=True,
              help="id of a training item (its row in the source data, as in items.csv)")
@click.option("--json", "as_json", is_flag=True, help="print everything as JSON")
@user_errors
def posterior_command(run_dir, item_id, as_json):
    """One training item's noisy label(s), posterior and prior per class, quality embedding."""
    from .inspection import item_posterior

    p = item_posterior(run_dir, item_id)
    if as_json:
        click.echo(json.dumps(p, indent=2))
        return
    answers = "; ".join(a["label"] + (f" (worker {a['worker']})" if a["worker"] >= 0 else "")
                        for a in p["noisy_labels"])
    click.echo(f"item {p['id']} (training row {p['row']})")
    click.echo(f"noisy label{'s' if len(p['noisy_labels']) > 1 else ''}: {answers}")
    click.echo(f"posterior label: {p['posterior_label']}   trust {p['trust']:.4f}")
    if "corrupted" in p:
        click.echo(f"corrupted by the run's artificial noise: {'yes' if p['corrupted'] else 'no'}")
    width = max(5, *(len(c) for c in p["class_names"]))
    click.echo(f"{'class':<{width}}  q(y|x,ỹ)  p(y|x)")
    for c in p["class_names"]:
        click.echo(f"{c:<{width}}  {p['posterior'][c]:8.4f}  {p['prior'][c]:6.4f}")
    for a, z in zip(p["noisy_labels"], p["quality"]):
        if z["mu"]:
            click.echo(f"z for answer {a['label']}: mu [{', '.join(f'{v:.3f}' for v in z['mu'])}]"
                       f"  sigma [{', '.join(f'{v:.3f}' for v in z['sigma'])}]")
    if not any(z["mu"] for z in p["quality"]):
        click.echo("no quality embedding z in this run")
