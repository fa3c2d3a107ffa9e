"""Yardsticks in the comparison benchmarks: the per-task block, ``--tasks``, freeze_speed's report,
and the tasks a benchmark cannot run (all training and select.py runs faked)."""
from __future__ import annotations

import argparse
import json
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import adapters  # noqa: E402
import common  # noqa: E402
import compare  # noqa: E402
import freeze_speed  # noqa: E402
import selection  # noqa: E402

SEARCH = {"floor": 0.432, "floor_name": "tfidf_mrr", "floor_se": 0.02, "frozen": 0.521, "frozen_name": "zero_shot_mrr",
          "frozen_se": 0.02}
CLONES = {"floor": 0.819, "floor_name": "bow_logreg_accuracy", "floor_se": 0.013, "frozen": 0.83,
          "frozen_name": "linear_probe_accuracy", "frozen_se": 0.012}


def summaries(refs: dict, metric: str, scores: dict[str, tuple[float, float]]) -> dict[str, dict]:
    return {arm: {"metric": metric, metric: mean, f"{metric}_se": se, **refs} for arm, (mean, se) in scores.items()}


def test_a_task_is_a_yardstick_when_frozen_beats_the_floor_and_the_best_arm_beats_frozen(capsys):
    block = compare.task_yardstick("search", summaries(SEARCH, "mrr", {"full": (0.60, 0.005), "top2": (0.62, 0.004)}))
    assert block == {"metric": "mrr", **SEARCH, "best_arm": "top2", "yardstick": True}
    assert capsys.readouterr().out == ""  # only a task that is not one is announced


def test_frozen_not_beating_the_floor_is_no_yardstick_and_says_why(capsys):
    # frozen is 0.011 above the floor, within two standard errors of the difference (0.035)
    block = compare.task_yardstick("clone_leetcode", summaries(CLONES, "acc", {"full": (0.95, 0.01)}))
    assert block["yardstick"] is False and block["best_arm"] == "full"
    line = capsys.readouterr().out.strip()
    assert line.startswith("clone_leetcode: not a yardstick at this budget (acc: floor bow_logreg_accuracy 0.819 +- 0.013")
    assert "frozen linear_probe_accuracy 0.830 +- 0.012" in line and "best full 0.950 +- 0.010" in line


def test_the_best_arm_not_beating_frozen_is_no_yardstick():
    # 0.54 - 0.521 = 0.019 < 2 * sqrt(0.02^2 + 0.005^2)
    assert not compare.yardstick(summaries(SEARCH, "mrr", {"full": (0.54, 0.005), "top2": (0.50, 0.005)}))["yardstick"]
    assert compare.yardstick(summaries(SEARCH, "mrr", {"full": (0.60, 0.005)}))["yardstick"]


def test_unknown_references_make_no_yardstick_and_no_crash(capsys):
    seq2seq = {"floor": 0.2, "floor_name": "copy_bleu", "floor_se": math.nan}  # no frozen reference at all
    block = compare.task_yardstick("summarize", {"full": {"metric": "bleu", "bleu": 0.3, "bleu_se": math.nan, **seq2seq}})
    assert block["frozen"] is None and block["floor_se"] is None and block["yardstick"] is False
    assert "frozen unknown" in capsys.readouterr().out
    empty = compare.yardstick({}, "acc")
    assert empty["best_arm"] is None and empty["floor"] is None and empty["yardstick"] is False


def test_headline_metric_from_the_floor_name_else_the_family():
    assert compare.headline_metric({"test/floor_name": "tfidf_mrr", "task": "search"}) == "mrr"
    assert compare.headline_metric({"test/floor_name": "bow_logreg_accuracy", "task": "clone"}) == "acc"
    assert compare.headline_metric({"task": "search"}) == "mrr"
    assert compare.headline_metric({"task": "classify"}) == "acc"
    assert compare.headline_metric({}) is None


def fake_train_once(seconds: dict[str, float], tasks: dict[str, dict]):
    """A stand-in for train_once: per task its data name, metric, references and per-arm scores."""
    def train_once(overrides, store=None):
        values = dict(o.split("=", 1) for o in overrides)
        arm = values["freeze"] + ("_cached" if "freeze.cache" in values else "")
        task, seed = tasks[values["task"]], int(values["seed"])
        metric, score, fit = task["metric"], task["scores"][arm] + 0.01 * seed, seconds[arm]
        refs = {f"test/{key}": value for key, value in task["refs"].items()}
        history = [{"seconds": fit / 2, "value": score - 0.05}, {"seconds": fit, "value": score}]
        return {"task": task["name"], "model": "minilm", f"val/{metric}": score, f"test/{metric}": score, **refs,
                "fit_seconds": fit, "trainable_params": 100 if arm == "none" else 20, "history": history,
                "monitor": f"val/{metric}", "monitor_mode": "max"}
    return train_once


def test_freeze_speed_reports_every_task_and_checks_the_goal_on_yardsticks_only(monkeypatch, tmp_path, capsys):
    tasks = {"search": {"name": "search", "metric": "mrr", "refs": SEARCH,
                        "scores": {"none": 0.60, "top2": 0.595, "top2_cached": 0.595}},
             "clone_leetcode": {"name": "clone", "metric": "acc", "refs": CLONES,
                                "scores": {"none": 0.95, "top2": 0.949, "top2_cached": 0.949}}}
    monkeypatch.setattr(compare, "train_once", fake_train_once({"none": 30.0, "top2": 15.0, "top2_cached": 9.0}, tasks))
    monkeypatch.setattr(freeze_speed, "load_tuned", lambda *a, **k: {"full": 1e-4, "top2": 5e-4, "top2_cached": 5e-4})
    out = tmp_path / "freeze-speed.json"
    line = freeze_speed.main(["--tasks", "search,clone_leetcode", "--seeds", "2", "--out", str(out)])
    printed = capsys.readouterr().out.strip().splitlines()
    assert json.loads(printed[-1]) == line == json.loads(out.read_text())
    assert [p for p in printed if "not a yardstick" in p] == [p for p in printed if p.startswith("clone_leetcode: not a")]
    assert {k: line[k] for k in ("model", "epochs", "train_examples", "eval_examples", "seeds")} == \
        {"model": "minilm", "epochs": 2, "train_examples": 400, "eval_examples": 300, "seeds": 2}
    search = line["tasks"]["search"]
    assert list(search) == ["metric", "floor", "floor_name", "floor_se", "frozen", "frozen_name", "frozen_se",
                            "best_arm", "yardstick", "full", "top2", "top2_cached", "speedup_top2_cached",
                            "speedup_top2", "score_gap_top2_cached", "seconds_to_full_score"]
    assert (search["metric"], search["floor"], search["frozen"], search["yardstick"]) == ("mrr", 0.432, 0.521, True)
    assert search["full"] == {"score": 0.605, "score_se": 0.005, "fit_seconds": 30.0, "fit_seconds_se": 0.0,
                              "lr": 1e-4, "trainable_params": 100}
    assert search["top2_cached"]["score"] == 0.6 and search["top2_cached"]["lr"] == 5e-4
    assert (search["speedup_top2_cached"], search["speedup_top2"], search["score_gap_top2_cached"]) == (3.33, 2.0, 0.005)
    # each seed's full score is reached at full's last check, never by top2 (0.005 below)
    assert search["seconds_to_full_score"] == {"full": 30.0, "top2": None, "top2_cached": None}
    clones = line["tasks"]["clone_leetcode"]
    assert (clones["metric"], clones["floor_name"], clones["yardstick"]) == ("acc", "bow_logreg_accuracy", False)
    assert clones["speedup_top2_cached"] == 3.33 and clones["score_gap_top2_cached"] == pytest.approx(0.001)
    # clone_leetcode would meet the goal too, but it is no yardstick: left out of the check
    assert line["goal"] == {"speedup": 3.0, "max_score_gap": 0.01, "met": {"search": True}}


def test_tasks_option_is_comma_separated_checked_and_defaults_to_the_yardstick_tasks():
    assert freeze_speed.parse([]).tasks == ["search", "clone_leetcode"]
    assert freeze_speed.parse(["--tasks", "search, classify"]).tasks == ["search", "classify"]
    assert common.task_names("clone_leetcode") == ["clone_leetcode"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown task config nope; known: .*search"):
        common.task_names("search,nope")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown task config"):
        common.task_names(" , ")
    with pytest.raises(SystemExit):
        freeze_speed.parse(["--tasks", "nope"])
    assert [common.task_family(t) for t in ("search", "clone_leetcode", "classify", "summarize")] == \
        ["retrieval", "pair", "classification", "seq2seq"]


def test_adapters_skips_a_seq2seq_task_only_while_an_output_fusion_arm_is_selected():
    output = adapters.selected_arms(["lora", "transducer_output"], 1)
    assert "transducer_output fuse at the output" in adapters.skip_reason("summarize", output)
    assert adapters.skip_reason("search", output) is None
    assert adapters.skip_reason("summarize", adapters.selected_arms(["lora", "transducer"], 1)) is None
    graph_only = adapters.skip_reason("summarize", adapters.selected_arms(["lora", "graph_only"], 1))
    assert "graph_only has no decoder input worth scoring" in graph_only


def fake_select(calls: list):
    def select(task, out, extra):
        calls.append((task, out.name, extra))
        scorer = {"kind": "scorer", "seconds": 1.0, "fraction_of_brute_force_time": 0.01, "weighted_tau": 0.7,
                  "weighted_tau_no_controls": 0.5, "top1_regret": 0.0}
        return {"evaluation": {"logme": scorer}, "brute_force_seconds": 100.0, "candidates": ["a", "b"],
                "skipped": [], "ground_truth": {"a": 0.9, "b": 0.8}, "ground_truth_metric": "test/acc",
                "extraction_seconds": 2.0}
    return select


@pytest.mark.parametrize("frozen, yardstick", [(0.7, True), (0.62, False)])
def test_selection_skips_retrieval_and_checks_goals_on_yardstick_tasks(monkeypatch, capsys, frozen, yardstick):
    calls = []
    monkeypatch.setattr(selection, "select", fake_select(calls))
    records = {name: {"test/acc": acc, "test/floor": 0.6, "test/floor_se": 0.01, "test/frozen": frozen,
                      "test/frozen_se": 0.01} for name, acc in (("a", 0.9), ("b", 0.8), ("elsewhere", 0.99))}
    monkeypatch.setattr(selection, "brute_force_records", lambda task, extra, detail: records)
    line = selection.main(["--tasks", "search,classify"])
    assert line["tasks"]["search"] == {"skipped": "search is a retrieval task: the transferability scorers need class labels"}
    assert [(task, out) for task, out, _ in calls] == [("classify", "classify-cold"), ("classify", "classify")]
    classify = line["tasks"]["classify"]
    # the best ranked candidate against its own frozen features; a record of another pool is ignored
    assert (classify["metric"], classify["best_arm"], classify["frozen"], classify["yardstick"]) == ("acc", "a", frozen, yardstick)
    assert classify["ground_truth_metric"] == "test/acc" and classify["skipped_candidates"] == []
    assert line["meets_goal"] == ({"logme": True} if yardstick else {})
    assert line["meets_goal_every_ranked_task"] == {"logme": True}  # what the goal would say, yardstick or not
    out = capsys.readouterr().out
    assert "skipped search is a retrieval task" in out and ("classify: not a yardstick" in out) != yardstick


def test_selection_reads_the_brute_force_records_select_py_wrote(monkeypatch, tmp_path):
    from hydra import compose, initialize_config_dir

    from codereuse.selection.brute_force import _record

    monkeypatch.setenv("CODEREUSE_CACHE", str(tmp_path))
    extra = ["bootstrap.draws=5", *selection.task_overrides("classify", 3, None)]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("select", overrides=["task=classify", *extra])
    at_rate = [*cfg.brute_force.overrides, "strategy.optim.lr=0.002"]
    budget = {"task": "classify", "data_seed": 0, "overrides": at_rate, "options": {"num_classes": 16}}  # as select.py passes it
    for seed, acc in zip(cfg.brute_force.seeds, (0.5, 0.6, 0.7)):
        metrics = {"test/acc": acc, "test/floor": 0.3, "test/floor_name": "tfidf_logreg_accuracy", "wall_seconds": 1.0}
        _record("minilm", "w1", metrics, "acc", seed=seed, **budget)
        _record("minilm", "w1", {**metrics, "test/acc": 0.1}, "acc", seed=seed,  # another rate: not the chosen one
                **{**budget, "overrides": [*cfg.brute_force.overrides, "strategy.optim.lr=0.0005"]})
    _record("other", "w2", metrics, "acc", seed=0, **{**budget, "overrides": [*at_rate, "task.max_length=32"]})
    records = selection.brute_force_records("classify", extra, {"minilm": {"lr": 0.002}, "other": {"lr": 0.002}})
    assert list(records) == ["minilm"] and records["minilm"]["test/floor"] == 0.3
    assert records["minilm"]["test/floor_name"] == "tfidf_logreg_accuracy"  # the reference's name is kept
    assert records["minilm"]["test/acc"] == pytest.approx(0.6)  # the mean over seeds at the chosen rate


def test_selection_passes_a_presets_data_to_select_and_to_brute_force():
    from hydra import compose, initialize_config_dir

    from codereuse.selection.pipeline import brute_force_overrides

    extra = selection.task_overrides("clone_leetcode", None, None)
    data_dir = str((ROOT.parent / "shared" / "data" / "leetcode-clones").resolve())
    assert extra == [f"data.dir={data_dir}"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("select", overrides=["task=clone_leetcode"])  # the preset alone reaches brute force too
    assert brute_force_overrides(cfg)[-1] == f"data.dir={data_dir}"
    assert selection.task_overrides("classify", None, None) == []


def test_selection_goal_needs_every_baseline_beaten_and_a_complete_scorer():
    good = {"kind": "scorer", "weighted_tau": 0.7, "weighted_tau_no_controls": 0.5, "top1_regret": 0.01,
            "fraction_of_brute_force_time": 0.01}
    baselines = {name: {"kind": "baseline", "weighted_tau": 0.2} for name in selection.BEATEN}
    task = {"scorers": {"logme": good, "random": {"kind": "baseline", "weighted_tau": 0.9}, **baselines}}
    assert selection.goal_check({"t": task}) == {"logme": True}  # the random ranking is no bar to beat
    for name in selection.BEATEN:
        beaten_by = {**task["scorers"], name: {"kind": "baseline", "weighted_tau": 0.75}}
        assert selection.goal_check({"t": {"scorers": beaten_by}}) == {"logme": False}
    incomplete = {**task["scorers"], "logme": {**good, "complete": False}}
    assert selection.goal_check({"t": {"scorers": incomplete}}) == {"logme": False}
    worse_regret = {**task["scorers"], "logme": {**good, "top1_regret": 0.05}}
    assert selection.goal_check({"t": {"scorers": worse_regret}}) == {"logme": False}
