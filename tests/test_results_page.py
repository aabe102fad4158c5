"""docs/results.md and README's results summary are what ``bench/results.py render`` writes from
the records in docs/results/ (no training), so the page cannot drift from its records; every
record names the commit that measured it and the command that makes it."""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import results  # noqa: E402
from bench.results_records import BEGIN, END, RECORDS  # noqa: E402

COMMIT = re.compile(r"^[0-9a-f]{7,40}(\+dirty)?$")


@pytest.fixture(scope="module")
def rendered():
    return results.render()


def test_render_is_deterministic(rendered):
    assert results.render() == rendered


def test_the_page_in_the_repo_is_what_its_records_render(rendered):
    page, readme = rendered
    assert (ROOT / "docs" / "results.md").read_text() == page, (
        "docs/results.md differs from its records: run `python bench/results.py render`")
    assert (ROOT / "README.md").read_text() == readme, (
        "README's results summary differs from the records: run `python bench/results.py render`")


def test_render_reads_the_records_alone(tmp_path, rendered):
    """A copy of docs/results/ elsewhere renders the same page: nothing else is read."""
    for f in RECORDS.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    assert results.render(tmp_path) == rendered


def test_every_table_is_on_the_page_once_and_every_record_is_a_table():
    template = (RECORDS / "page.md").read_text()
    names = [t.name for t in results.TABLES]
    for name in names:
        assert template.count("{{" + name + "}}") == 1, name
    stems = {f.stem for f in RECORDS.iterdir() if f.suffix in (".csv", ".json")}
    assert stems == set(names)


@pytest.mark.parametrize("table", results.TABLES, ids=lambda t: t.name)
def test_every_record_names_a_commit_and_a_command(table):
    meta = json.loads((RECORDS / f"{table.name}.json").read_text())
    assert meta["regenerate"] == f"python bench/results.py run {table.name}"
    assert meta["commands"] and all(c.startswith(("python ", "for ")) for c in meta["commands"])
    commits = [meta["commit"]] if meta.get("kept") else meta["commits"]
    assert commits and all(COMMIT.match(c) for c in commits), commits
    with open(RECORDS / f"{table.name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows
    if not meta.get("kept"):  # each run's own commit, from its model.json
        assert {r["commit"] for r in rows} == set(meta["commits"])
    elif meta["check"]:
        assert meta["check"]["commands"] and meta["check"]["cells"]
        assert all(COMMIT.match(c) for c in meta["check"]["commits"])


def test_the_readme_holds_one_summary_between_its_markers():
    readme = (ROOT / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    assert readme.index(BEGIN) < readme.index(END)


def test_runs_stay_out_of_the_records():
    """Run folders are git-ignored; the records hold only their numbers."""
    assert not any(f.is_dir() for f in RECORDS.iterdir())
    assert "runs/" in (ROOT / ".gitignore").read_text().split()
