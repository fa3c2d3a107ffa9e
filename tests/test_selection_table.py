"""``select.py``'s console table fits a 120-column terminal; every score stays in selection.csv."""
from __future__ import annotations

from pathlib import Path

from codereuse.selection.pipeline import SHOWN_SCORERS, TABLE_WIDTH, _print_ranking


def summary_with(scorers: int) -> dict:
    names = [f"candidate_{i}" for i in range(8)]
    scores = {f"scorer_{s}": {n: float(i * (s + 1)) for i, n in enumerate(names)} for s in range(scorers)}
    scores["logme"] = {n: float(-i) for i, n in enumerate(names)}
    return {"task": "classify", "scores": scores, "candidates": names, "labels": {n: "pretrained" for n in names},
            "params": {n: 22.7e6 for n in names}, "extraction_seconds": 3.0}


def test_the_ranking_fits_a_terminal_and_names_the_csv(capsys):
    summary = summary_with(scorers=13)
    _print_ranking(summary, {n: 0.5 for n in summary["candidates"]}, Path("run/selection.csv"))
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= TABLE_WIDTH
    assert "ranked by logme" in out and f"{14 - SHOWN_SCORERS} more scorers in run/selection.csv" in out
    assert "scorer_12" not in out  # beyond the width: in the CSV only


def test_a_small_pool_of_scorers_is_shown_whole(capsys):
    summary = summary_with(scorers=2)
    _print_ranking(summary, {}, Path("selection.csv"))
    out = capsys.readouterr().out
    assert "scorer_0" in out and "scorer_1" in out and "more scorers" not in out
