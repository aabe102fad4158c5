"""A table's record, written from its runs and read back: what ``bench/results.py`` runs and
renders with.

``run`` executes a table's commands one after another (their grids resume, keeping finished
cells) and writes ``docs/results/NAME.csv`` (one row per run, the ``csv`` module) and
``NAME.json`` (provenance: the commit each run was trained at, read from its ``model.json``,
the commands, the presets and their SHA-256, the date, the machine and its load average).
``render_page`` and ``render_summary`` read those records alone.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "docs" / "results"
RUNS = Path("runs") / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
GENERATED = ("<!-- Written by `python bench/results.py render` from docs/results/page.md and the "
             "records in docs/results/; edit those, not this file. -->")
#: the columns of a measured table's record: what identifies a run, what it scored, its commit
FIELDS = ("variant", "cell", "method", "guide", "prior", "crowd", "noise_rate", "seed", "param",
          "value", "test_mAP", "test_accuracy", "val_noisy_mAP", "val_noisy_accuracy",
          "val_clean_accuracy", "train_given_label_accuracy", "train_cleaned_label_accuracy",
          "seconds", "epochs", "mixup", "elbo", "alpha_max", "collapsed", "commit")
#: the columns of a record that are text (the others are numbers, or blank)
TEXT = ("variant", "cell", "method", "guide", "prior", "crowd", "param", "collapsed", "commit",
        "weights", "elbo")


def out_dir(table, variant: str) -> Path:
    return RUNS / table.name / variant if variant else RUNS / table.name


def shown(table, variant: str, command: str) -> str:
    """The command as the page prints it: its output folder filled in."""
    return command.format(out=out_dir(table, variant))


def _git_commit() -> str:
    """HEAD, with ``+dirty`` when tracked files differ from it (as ``model.json`` records)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def execute(table, variant: str, command: str, root: str | None) -> Path:
    """Run one command of a table (resumable: its grid keeps finished cells); returns its
    output folder. A script that prints its table writes that output to ``output.txt``."""
    out = out_dir(table, variant)
    argv = shlex.split(shown(table, variant, command))
    argv[0] = sys.executable
    if root and argv[1] == "bench/cifar10n_features.py":
        argv += ["--root", root]
    folder = ROOT / out
    if table.source == "fit" and (folder / "metrics.json").is_file():
        return out
    if table.source == "stdout":
        if (folder / "output.txt").is_file():
            return out
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "commit.txt").write_text(_git_commit() + "\n")
        text = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        (folder / "output.txt").write_text(text)
        return out
    subprocess.run(argv, cwd=ROOT, check=True)
    return out


def _cell(run_dir: Path) -> dict:
    """What a run folder says of how it was made: its commit and threads (``model.json``),
    the options a table tells runs apart by (``config.json``), whether its predictions
    collapsed onto one class, its epochs and when it finished (``metrics.json``)."""
    with open(ROOT / run_dir / "model.json") as f:
        made = json.load(f)["provenance"]
    with open(ROOT / run_dir / "metrics.json") as f:
        metrics = json.load(f)
    with open(ROOT / run_dir / "config.json") as f:
        config = json.load(f)
    return {"commit": made["git_commit"] or "", "collapsed": metrics.get("collapsed"),
            "epochs": metrics.get("epochs"),
            **{k: config.get(k) for k in ("mixup", "elbo", "alpha_max")},
            "_threads": made["threads"],
            "_finished": (ROOT / run_dir / "metrics.json").stat().st_mtime}


def cell_rows(table, variant: str, out: Path) -> list[dict]:
    """The runs of one command as record rows (``_`` keys: provenance, not written)."""
    if table.source == "fit":
        with open(ROOT / out / "metrics.json") as f:
            m = json.load(f)
        return [{**{k: m.get(k) for k in FIELDS}, "variant": variant, "cell": out.name,
                 **_cell(out)}]
    if table.source == "stdout":
        made = {"commit": (ROOT / out / "commit.txt").read_text().strip(),
                "_threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
                "_finished": (ROOT / out / "output.txt").stat().st_mtime}
        return [{**r, "variant": variant, **made}
                for r in table.parse((ROOT / out / "output.txt").read_text())]
    with open(ROOT / out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{**{k: r.get(k, "") for k in FIELDS}, "variant": variant,
             "cell": Path(r["run_dir"]).name, **_cell(Path(r["run_dir"]))} for r in rows]


def _utc(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def machine(rows: list[dict], started: float, load_start) -> dict:
    """The machine, and when the runs finished; the load average is known only for runs this
    ``run`` trained (None when it trained none)."""
    import pyro
    import torch

    finished = {(r["variant"], r["_finished"]) for r in rows}  # a printed table: one run
    trained = sum(t >= started for _, t in finished)
    load = [round(x, 2) for x in os.getloadavg()]
    return {"host": platform.node(), "cpus": os.cpu_count(),
            "threads": sorted({r["_threads"] for r in rows if r["_threads"]}),
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "pyro": pyro.__version__, "runs": len(finished),
            "runs_trained_by_this_command": trained,
            "finished_first": _utc(min(r["_finished"] for r in rows)) + " UTC",
            "finished_last": _utc(max(r["_finished"] for r in rows)) + " UTC",
            "load_average_start": load_start if trained else None,
            "load_average_end": load if trained else None}


def _kept_load(now: dict, table) -> dict:
    """A record written again from the same runs keeps the load its earlier record saw them
    train under (this ``run`` trained none, so it saw no load)."""
    path = RECORDS / f"{table.name}.json"
    if now["runs_trained_by_this_command"] or not path.is_file():
        return now
    before = json.loads(path.read_text()).get("machine") or {}
    same = all(before.get(k) == now[k] for k in ("runs", "finished_first", "finished_last"))
    if same and before.get("load_average_start"):
        now.update({k: before[k] for k in ("load_average_start", "load_average_end",
                                            "runs_trained_by_this_command")})
    return now


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sha_at(commit: str, path: str) -> str | None:
    """The SHA-256 of a file as it was at ``commit`` (None: no such file then)."""
    shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True)
    return hashlib.sha256(shown.stdout).hexdigest() if shown.returncode == 0 else None


def run(table, root: str | None) -> None:
    """Train what the table lacks and write its record; for a kept table, train its check
    cells and record whether they reproduce the kept values."""
    started, load_start = time.time(), [round(x, 2) for x in os.getloadavg()]
    rows = []
    commands = table.check_commands if table.kept else table.commands
    for variant, command in commands:
        rows += cell_rows(table, variant, execute(table, variant, command, root))
    record = {
        "name": table.name, "title": table.title, "regenerate": f"python bench/results.py run "
        f"{table.name}", "commands": [shown(table, v, c) for v, c in table.commands],
        "cifar10n_root": root, "seeds": table.seeds, "methods": table.methods,
        "presets": {p: sha256(ROOT / p) for p in table.presets},
        "date": _utc(time.time()) + " UTC",
        "machine": _kept_load(machine(rows, started, load_start), table) if rows else None}
    if table.kept:
        record.update(commit=table.kept, kept=True, check=check(table, rows) if rows else None,
                      presets_at_commit={p: _sha_at(table.kept, p) for p in table.presets})
        if rows:
            record["check"]["commands"] = [shown(table, v, c) for v, c in table.check_commands]
    else:
        record["commits"] = sorted({r["commit"] for r in rows})
        write_csv(RECORDS / f"{table.name}.csv", rows, table.fields or FIELDS)
    RECORDS.mkdir(parents=True, exist_ok=True)
    (RECORDS / f"{table.name}.json").write_text(json.dumps(record, indent=1, sort_keys=True)
                                                + "\n")


def check(table, rows: list[dict]) -> dict:
    """Each check cell's metric, trained again, against the kept value, to its decimals."""
    cells = {(r["variant"], r["cell"]): r for r in rows}
    results = []
    for variant, cell, metric, expected in table.checks:
        got = float(cells[(variant, cell)][metric])
        digits = len(expected.split(".")[1])
        results.append({"cell": cell, "metric": metric, "kept": expected,
                        "measured": f"{got:.{digits}f}", "same": f"{got:.{digits}f}" == expected,
                        "commit": cells[(variant, cell)]["commit"]})
    return {"cells": results, "reproduced": all(r["same"] for r in results),
            "commits": sorted({r["commit"] for r in results})}


def write_csv(path: Path, rows: list[dict], fields) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in fields})


def _number(text: str):
    """A record's cell as a number; blank is None, a sweep's text value stays text."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def read_record(name: str, records: Path = RECORDS) -> tuple[dict, list[dict]]:
    """A table's provenance and rows; a measured table's numbers as floats (blank: None)."""
    meta = json.loads((records / f"{name}.json").read_text())
    with open(records / f"{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not meta.get("kept"):
        rows = [{k: v if k in TEXT else _number(v) for k, v in r.items()} for r in rows]
    return meta, rows


def _short(commit: str) -> str:
    return commit[:7] + ("+dirty" if commit.endswith("+dirty") else "")


def _machine(meta: dict) -> str:
    m = meta["machine"]
    threads = "/".join(str(t) for t in m["threads"]) or "the default number of"
    load = (f", load average {m['load_average_start'][0]} at the start and "
            f"{m['load_average_end'][0]} at the end" if m["load_average_start"] else "")
    first, last = m["finished_first"][:-4], m["finished_last"][:-4]
    when = first if last == first else first + (
        f" to {last[11:]}" if last[:10] == first[:10] else f" to {last}")
    runs = f"{m['runs']} runs" if m["runs"] != 1 else "the run"
    return (f"{runs} finished {when} UTC on {m['host']} ({m['cpus']} CPUs, {threads} "
            f"thread{'s' if threads != '1' else ''} per run, one run at a time{load})")


def _presets(meta: dict) -> str:
    """The presets and their SHA-256; for a kept table, whether they are the files its commit
    measured with."""
    if not meta["presets"]:
        return ""
    files = ", ".join(f"`{p}` ({h[:12]})" for p, h in sorted(meta["presets"].items()))
    text = f"; presets (SHA-256) {files}"
    if not meta.get("kept"):
        return text
    then, commit = meta["presets_at_commit"], _short(meta["commit"])
    if all(v is None for v in then.values()):
        return f"{text}; none was a file at {commit}, whose bench held its settings"
    same = [p for p, h in meta["presets"].items() if then.get(p) == h]
    return f"{text}, {'the same files as' if len(same) == len(then) else 'not all as'} at {commit}"


def stamp(meta: dict) -> str:
    """Where a table's numbers come from: its record, commit(s), presets, when and where."""
    record = f"*Record `docs/results/{meta['name']}.csv`"
    if not meta.get("kept"):
        commits = ", ".join(_short(x) for x in meta["commits"])
        return f"{record}: measured at commit {commits}{_presets(meta)}; {_machine(meta)}.*"
    c, commit = meta["check"], _short(meta["commit"])
    kept = (f"{record}: measured at commit {commit} (`git show {commit}` gives that day's code "
            f"and text), kept, not re-run here{_presets(meta)}")
    if not c:
        return f"{kept}. Not checked again.*"
    cells = "; ".join(f"`{r['cell']}` {r['metric'].replace('_', ' ')} {r['kept']} → "
                      f"{r['measured']}" for r in c["cells"])
    verdict = ("reproduced to the decimals shown" if c["reproduced"] else
               "**did not reproduce**: the kept rows are what that commit measured")
    return (f"{kept}. Checked at commit {', '.join(_short(x) for x in c['commits'])}, "
            f"{_machine(meta)}: {cells}: {verdict}.*")


def block(table, meta: dict, rows: list[dict]) -> str:
    """One table as the page shows it: the commands that make it, the table, the stamp."""
    run = f"{meta['regenerate']} && python bench/results.py render"
    if meta.get("kept"):
        lines = [f"# measured at {_short(meta['commit'])} with:", *meta["commands"]]
        if meta["check"]:
            lines += [f"# checked with `{run}`, which runs:", *meta["check"]["commands"]]
    else:
        lines = [f"{run}    # runs:", *meta["commands"]]
    commands = "\n".join(lines)
    return f"```bash\n{commands}\n```\n\n{table.render(rows)}\n\n{stamp(meta)}"


def render_page(tables: dict, records: Path = RECORDS) -> str:
    """docs/results.md: the template ``page.md`` with each ``{{NAME}}`` line replaced by its
    table (commands, table, stamp)."""
    template = (records / "page.md").read_text()
    if template.startswith("<!--"):  # the template's note to its editors
        template = template.split("-->", 1)[1].lstrip("\n")
    out = [GENERATED]
    for line in template.splitlines():
        text = line.strip()
        if text.startswith("{{") and text.endswith("}}"):
            out.append(block(tables[text[2:-2]], *read_record(text[2:-2], records)))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _commits(meta: dict) -> list[str]:
    """The commit(s) a table's numbers were measured at; a kept table's with its check."""
    if not meta.get("kept"):
        return [_short(c) for c in meta["commits"]]
    check = (f"checked at {', '.join(_short(c) for c in meta['check']['commits'])}"
             if meta["check"] else "not checked again")
    return [f"{_short(meta['commit'])} ({check})"]


def summary_row(tables: dict, s, records: Path) -> str:
    """One README row: CAN (the candidate with the lowest ``s.choose``), the best baseline by
    its mean, plain; the best of CAN and the baseline in bold."""
    meta, rows = read_record(s.table, records)
    values = tables[s.table].values(rows, s.column)
    can_meta, can_values = meta, values
    if s.can_table:
        can_meta, can_rows = read_record(s.can_table, records)
        can_values = tables[s.can_table].values(can_rows, s.can_column)
    key = s.can[0]
    if len(s.can) > 1:
        scores = tables[s.table].values(rows, s.choose)
        key = min(s.can, key=lambda k: scores[k][0])
    can = can_values[key]
    note = s.can_note or (f" ({key.split('|')[-1].strip('`')})" if len(s.can) > 1 else "")
    name, best = max(((n, values[k]) for k, n in s.baselines if k in values),
                     key=lambda t: t[1][0])
    can_text = f"**{can[1]}**{note}" if can[0] > best[0] else f"{can[1]}{note}"
    best_text = f"**{name} {best[1]}**" if best[0] > can[0] else f"{name} {best[1]}"
    commits = ", ".join(dict.fromkeys(_commits(meta) + _commits(can_meta)))
    runs = " and ".join(f"`python bench/results.py run {t}`"
                        for t in dict.fromkeys([s.table, s.can_table or s.table]))
    return (f"| {s.data} | {s.labels} | {can_text} | {best_text} | {s.plain[1]}"
            f"{values[s.plain[0]][1]} | {commits} | {runs} |")


def render_summary(tables: dict, summary, records: Path = RECORDS) -> str:
    """README's results table, per data set: CAN, the best baseline and plain, from records."""
    return "\n".join(["| data set | labels | CAN | best baseline | plain | measured at | "
                      "made by |", "|---|---|---|---|---|---|---|"]
                     + [summary_row(tables, s, records) for s in summary])


def with_summary(readme: str, summary: str) -> str:
    """README with the text between its two results markers replaced by ``summary``."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{summary}\n{END}{tail}"
