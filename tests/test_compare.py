"""benchmarks/compare.py: statistics, time to accuracy, LR tuning and its YAML, interleaved arms,
and one real (tiny) comparison through ``train.py``'s run()."""
from __future__ import annotations

import math
import sys

import pytest
import yaml

from codereuse.errors import ConfigError
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import compare  # noqa: E402
from compare import Arm  # noqa: E402

ARMS = [Arm("full", ["freeze=none"], [1e-4, 2e-4, 5e-4]), Arm("top2", ["freeze=top2"], [1e-3, 3e-3]),
        Arm("top2_cached", ["freeze=top2", "freeze.cache=true"], [], lr_from="top2")]


def test_mean_and_standard_error_of_known_values():
    mean, se = compare.mean_se([1, 2, 3, 4])
    assert mean == pytest.approx(2.5)
    assert se == pytest.approx(math.sqrt(5 / 3) / 2)  # sample sd sqrt(5/3), over sqrt(4)
    assert compare.mean_se([0.7, 0.7, 0.7]) == (pytest.approx(0.7), 0.0)
    mean, se = compare.mean_se([0.8])
    assert mean == 0.8 and math.isnan(se)  # one run has no spread to report
    with pytest.raises(ValueError):
        compare.mean_se([])


def test_seconds_to_reach_a_score_or_never():
    history = [(10.0, 0.50), (20.0, 0.72), (30.0, 0.65), (40.0, 0.80)]
    assert compare.seconds_to(0.72, history) == 20.0  # first check at or above, not the best one
    assert compare.seconds_to(0.75, history) == 40.0
    assert compare.seconds_to(0.81, history) is None  # never within the budget
    assert compare.seconds_to(0.4, [{"seconds": 5.0, "value": 0.45}]) == 5.0
    assert compare.seconds_to(0.6, [(1.0, 0.9), (2.0, 0.55)], mode="min") == 2.0
    assert compare.seconds_to(0.5, []) is None


def fake_runner(calls: list, scores):
    """A stand-in for train_once: records its overrides; the score is ``scores(arm freeze, lr, seed)``."""
    def train_once(overrides, store=None):
        values = dict(o.split("=", 1) for o in overrides)
        lr, seed = float(values["strategy.optim.lr"]), int(values.get("seed", 0))
        calls.append((values["freeze"] + ("_cached" if "freeze.cache" in values else ""), lr, seed))
        score = scores(values["freeze"], lr, seed)
        history = [{"seconds": 10.0 * k, "value": score * k / 2} for k in (1, 2)]
        return {"val/f1": score, "test/f1": score - 0.01, "test/acc": score, "test/floor": 0.6,
                "test/floor_name": "jaccard_accuracy", "test/floor_se": 0.02, "test/frozen": 0.7,
                "test/frozen_name": "linear_probe_accuracy", "test/frozen_se": 0.03, "fit_seconds": 20.0 + seed,
                "history": history, "monitor": "val/f1", "monitor_mode": "max"}
    return train_once


def test_head_lr_from_passes_the_source_arms_lr_to_the_head(tmp_path, monkeypatch):
    seen = []

    def train_once(overrides, store=None):
        values = dict(o.split("=", 1) for o in overrides)
        seen.append((values["freeze"], float(values["strategy.optim.lr"]), values.get("strategy.optim.head_lr")))
        score = 0.5 + float(values["strategy.optim.lr"])
        return {"val/f1": score, "test/f1": score, "fit_seconds": 1.0, "history": [], "monitor": "val/f1", "monitor_mode": "max"}

    monkeypatch.setattr(compare, "train_once", train_once)
    arms = [Arm("head", ["freeze=all"], [1e-3, 3e-3]), Arm("lora", ["freeze=none"], [1e-4, 1e-3], head_lr_from="head")]
    assert compare.tune("bench", "clone", arms, ["model=tiny"], directory=tmp_path) == {"head": 3e-3, "lora": 1e-3}
    assert seen[2:] == [("none", 1e-4, "0.003"), ("none", 1e-3, "0.003")]  # the head's tuned LR, not the grid's
    assert yaml.safe_load((tmp_path / "bench.yaml").read_text())["clone"]["arms"]["lora"]["head_lr"] == {"lr": 3e-3, "from": "head"}
    seen.clear()
    results = compare.run_arms(arms, ["model=tiny"], compare.load_tuned("bench", "clone", arms, directory=tmp_path), seeds=(0,))
    assert sorted(seen) == [("all", 3e-3, None), ("none", 1e-3, "0.003")] and set(results) == {"head", "lora"}
    # re-tuning the source alone would silently change the other arm's head: refused in one line
    compare.tune("bench", "clone", [Arm("head", ["freeze=all"], [1e-3])], ["model=tiny"], directory=tmp_path)
    with pytest.raises(ConfigError, match="lora was tuned with head LR 0.003"):
        compare.load_tuned("bench", "clone", arms, directory=tmp_path)
    with pytest.raises(ConfigError, match="head_lr_from"):  # the source must be tuned first
        compare.tune("bench", "clone", arms[::-1], ["model=tiny"], directory=tmp_path)


def test_tune_picks_each_arms_best_lr_and_round_trips_the_yaml(tmp_path, monkeypatch, capsys):
    best = {"none": 2e-4, "top2": 3e-3}
    calls = []
    monkeypatch.setattr(compare, "train_once", fake_runner(calls, lambda f, lr, s: 0.9 - abs(math.log(lr / best[f]))))
    lrs = compare.tune("bench", "clone", ARMS, ["model=tiny"], directory=tmp_path)
    assert lrs == {"full": 2e-4, "top2": 3e-3, "top2_cached": 3e-3}
    assert [c[:2] for c in calls] == [("none", 1e-4), ("none", 2e-4), ("none", 5e-4), ("top2", 1e-3), ("top2", 3e-3)]
    assert '"full": 0.0002' in capsys.readouterr().out  # the choice is printed
    stored = yaml.safe_load((tmp_path / "bench.yaml").read_text())["clone"]
    assert stored["arms"]["full"]["grid"] == {"0.0001": pytest.approx(0.9 - math.log(2), abs=1e-4), "0.0002": 0.9,
                                              "0.0005": pytest.approx(0.9 - math.log(2.5), abs=1e-4)}
    assert stored["arms"]["top2_cached"] == {"lr": 3e-3, "from": "top2"}
    assert compare.load_tuned("bench", "clone", ARMS, directory=tmp_path) == lrs
    # a second task is added beside the first, not over it
    compare.tune("bench", "defect", ARMS[:1], ["model=tiny"], directory=tmp_path)
    assert compare.load_tuned("bench", "clone", directory=tmp_path) == lrs
    # re-tuning one arm at the same budget keeps the others; at another budget it starts afresh
    best["none"] = 5e-4
    compare.tune("bench", "clone", ARMS[:1], ["model=tiny"], directory=tmp_path)
    assert compare.load_tuned("bench", "clone", directory=tmp_path) == {**lrs, "full": 5e-4}
    compare.tune("bench", "clone", ARMS[:1], ["model=tiny", "trainer.max_epochs=3"], directory=tmp_path)
    assert compare.load_tuned("bench", "clone", directory=tmp_path) == {"full": 5e-4}


def test_load_tuned_fails_in_one_line_when_something_is_missing(tmp_path):
    with pytest.raises(ConfigError, match="--tune"):
        compare.load_tuned("absent", "clone", directory=tmp_path)
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump({"clone": {"arms": {"full": {"lr": 1e-4}}}}))
    with pytest.raises(ConfigError, match="no LR for arm.s. top2, top2_cached"):
        compare.load_tuned("bench", "clone", ARMS, directory=tmp_path)
    with pytest.raises(ConfigError, match="bench.yaml:defect"):
        compare.load_tuned("bench", "defect", directory=tmp_path)


def test_arms_are_interleaved_within_each_seed_in_rotating_order():
    order = [(seed, arm.name) for seed, arm in compare.interleaved(ARMS, (0, 1, 2))]
    assert order == [(0, "full"), (0, "top2"), (0, "top2_cached"),
                     (1, "top2"), (1, "top2_cached"), (1, "full"),
                     (2, "top2_cached"), (2, "full"), (2, "top2")]


def test_run_arms_aggregates_over_seeds_and_times_to_the_reference(monkeypatch):
    calls = []
    score = {"none": 0.80, "top2": 0.76}
    monkeypatch.setattr(compare, "train_once", fake_runner(calls, lambda f, lr, s: score[f] + 0.02 * s))
    lrs = {"full": 1e-4, "top2": 1e-3, "top2_cached": 1e-3}
    results = compare.run_arms(ARMS, ["model=tiny"], lrs, seeds=(0, 1, 2))
    assert [(c[0], c[2]) for c in calls][:4] == [("none", 0), ("top2", 0), ("top2_cached", 0), ("top2", 1)]
    full = results["full"]
    assert full["lr"] == 1e-4 and [run["seed"] for run in full["runs"]] == [0, 1, 2]
    assert full["f1"] == pytest.approx(0.81) and full["f1_se"] == pytest.approx(0.02 / math.sqrt(3))
    assert full["acc"] == pytest.approx(0.82) and full["seconds"] == pytest.approx(21.0)
    assert full["floor"] == pytest.approx(0.6) and full["floor_name"] == "jaccard_accuracy"
    # the references are the first run's, errors included (not a spread over seeds); the headline
    # metric is the one the floor sits beside
    assert {k: full[k] for k in ("metric", "floor_se", "frozen", "frozen_name", "frozen_se")} == \
        {"metric": "acc", "floor_se": 0.02, "frozen": 0.7, "frozen_name": "linear_probe_accuracy", "frozen_se": 0.03}
    assert not {"floor_se_se", "frozen_se_se"} & set(full)
    assert compare.yardstick(results) == {"metric": "acc", "floor": 0.6, "floor_name": "jaccard_accuracy", "floor_se": 0.02,
                                          "frozen": 0.7, "frozen_name": "linear_probe_accuracy", "frozen_se": 0.03,
                                          "best_arm": "full", "yardstick": True}  # 0.1 over the floor, acc 0.82 over frozen
    # full reaches its own final score at its last check; top2 never gets there
    assert compare.time_to_reference(results, "full") == {"full": 20.0, "top2": None, "top2_cached": None}


def test_a_real_tiny_comparison_through_train_run(tmp_path, code_tree):
    common = ["model=tiny", "task=clone", f"data.source_dir={code_tree}", "logger=none", "callbacks=none",
              "trainer.max_epochs=2", "trainer.val_check_interval=0.5", "task.max_train_examples=32",
              "task.max_eval_examples=16", "task.batch_size=8", "task.max_length=48"]
    arms = [Arm("full", ["freeze=none"], [1e-3]), Arm("top2_cached", ["freeze=top2", "freeze.cache=true"], [1e-3])]
    results = compare.run_arms(arms, common, {"full": 1e-3, "top2_cached": 1e-3}, seeds=(0,))
    for result in results.values():
        run = result["runs"][0]
        assert 0.0 <= result["f1"] <= 1.0 and 0.0 <= result["floor"] <= 1.0
        # two validation checks per epoch, at increasing times, each with the final score last
        assert [point["epoch"] for point in run["history"]] == [0, 0, 1, 1]
        assert all(a["seconds"] < b["seconds"] for a, b in zip(run["history"], run["history"][1:]))
        assert run["history"][-1]["value"] == pytest.approx(run["val/f1"])
    assert results["top2_cached"]["runs"][0]["trainable_params"] < results["full"]["runs"][0]["trainable_params"]


def test_adapters_head_lr_from_puts_the_source_first_and_shares_its_lr():
    import adapters

    arms = adapters.selected_arms(["transducer_output", "lora", "head"], 2, head_lr_from="head")
    assert [(a.name, a.head_lr_from, len(a.lr_grid)) for a in arms] == [
        ("head", None, 2), ("transducer_output", "head", 2), ("lora", "head", 2)]
    assert all(a.head_lr_from is None for a in adapters.selected_arms(["head", "lora"], 3))


def test_adapters_shuffled_controls_train_at_their_arms_lr_and_need_them_selected():
    import adapters
    from codereuse.errors import ConfigError

    arms = {arm.name: arm for arm in adapters.selected_arms(["transducer", "transducer_shuffled"], 2)}
    assert arms["transducer_shuffled"].lr_from == "transducer" and arms["transducer_shuffled"].lr_grid == []
    with pytest.raises(ConfigError, match="select transducer_output too"):
        adapters.selected_arms(["head", "transducer_output_shuffled"], 2)


def test_selection_benchmark_budget_replaces_only_epochs_and_examples():
    from hydra import compose, initialize_config_dir

    import selection

    assert selection.brute_force_budget(None, None) == []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        default = list(compose("select").brute_force.overrides)
        larger = list(compose("select", overrides=selection.brute_force_budget(3, 1024)).brute_force.overrides)
    assert len(larger) == len(default) and "trainer.max_epochs=3" in larger and "task.max_train_examples=1024" in larger
    assert [o for o in larger if "epochs" not in o and "train_examples" not in o] == \
        [o for o in default if "epochs" not in o and "train_examples" not in o]


def test_adapters_goal_reads_the_transducer_against_each_arm_by_hand():
    import adapters

    def arm(mrr, se, pct=0.5):
        return {"mrr": mrr, "mrr_se": se, "adapter_pct": pct}

    # transducer 0.60 +- 0.01: LoRA 0.59 (at least: yes), full 0.615 (within 0.02: yes), head 0.57 +- 0.01
    # (gap 0.03 > 2 * sqrt(2) * 0.01 = 0.0283: yes), shuffled 0.585 +- 0.01 (gap 0.015: no)
    block = {"metric": "mrr", "yardstick": True, "methods": {
        "transducer": arm(0.60, 0.01), "transducer_shuffled": arm(0.585, 0.01), "lora": arm(0.59, 0.01),
        "full": arm(0.615, 0.01, 100.0), "head": arm(0.57, 0.01, 0.0)}}
    checks = adapters.goal_checks(block)
    assert checks == {"transducer": {"adapter_under_max": True, "at_least_lora": True, "near_full": True,
                                     "above_head": True, "above_shuffled": False, "met": False}}
    block["methods"]["transducer_shuffled"] = arm(0.56, 0.01)
    assert adapters.goal_checks(block)["transducer"]["met"] is True
    block["yardstick"] = False  # no goal is met on a task that is not a yardstick
    assert adapters.goal_checks(block)["transducer"]["met"] is False
    del block["methods"]["full"]  # an arm that did not run leaves its part unknown, and the goal unmet
    block["yardstick"] = True
    assert adapters.goal_checks(block)["transducer"]["near_full"] is None
    assert adapters.goal_checks(block)["transducer"]["met"] is False
    assert adapters.goal_checks({"metric": "mrr", "yardstick": True, "methods": {"head": arm(0.5, 0.01)}}) == {}


def test_a_stored_run_is_read_back_not_trained_again(tmp_path, monkeypatch, capsys):
    import compare

    trained = []

    def train(overrides):
        trained.append(overrides)
        return {"test/mrr": 0.5 + len(trained) / 10, "history": [{"seconds": 1.0, "value": 0.4}]}

    monkeypatch.setattr(compare, "_train", train)
    first = compare.train_once(["task=search", "seed=0"], tmp_path)
    again = compare.train_once(["task=search", "seed=0"], tmp_path)
    assert len(trained) == 1 and again == first == {"test/mrr": 0.6, "history": [{"seconds": 1.0, "value": 0.4}]}
    assert compare.train_once(["task=search", "seed=1"], tmp_path)["test/mrr"] == 0.7  # other overrides: trained
    assert compare.train_once(["task=search", "seed=0"])["test/mrr"] == 0.8  # no store: always trained
    assert len(trained) == 3 and not list(tmp_path.glob("*.partial"))
    # a corrupt file is trained again with a note, and replaced
    path = next(p for p in tmp_path.glob("*.json") if "seed=0" in p.read_text())
    path.write_text("{not json")
    assert compare.train_once(["task=search", "seed=0"], tmp_path)["test/mrr"] == 0.9
    assert "unreadable" in capsys.readouterr().out
    assert compare.stored_run(tmp_path, ["task=search", "seed=0"])["test/mrr"] == 0.9


def test_adapters_resume_stores_runs_under_the_runs_dir_and_record(tmp_path, monkeypatch):
    import adapters

    stores = []
    monkeypatch.setattr(adapters, "load_tuned", lambda record, task, arms, common: {arm.name: 1e-3 for arm in arms})
    monkeypatch.setattr(adapters, "run_arms", lambda arms, common, lrs, seeds, store: stores.append(store) or {})
    monkeypatch.setattr(adapters, "report", lambda task, results: {})
    for argv in (["--resume", "--runs-dir", str(tmp_path)], ["--resume"], []):
        monkeypatch.setattr(sys, "argv", ["adapters.py", "--tasks", "search", "--arms", "head", "--record", "r", *argv])
        adapters.main()
    assert stores == [tmp_path / "r", compare.RUNS_DIR / "r", None]


def test_adapters_report_keeps_a_small_learning_rate_whole():
    import adapters

    counts = {"adapter_params": 10, "adapter_pct": 0.12345, "head_params": 5, "head_pct": 0.1}
    refs = {"floor": 0.43, "floor_name": "tfidf_mrr", "floor_se": 0.02, "frozen": 0.53, "frozen_name": "zero_shot_mrr",
            "frozen_se": 0.02}
    results = {"full": {"runs": [counts], "lr": 5e-5, "metric": "mrr", "mrr": 0.602123, "mrr_se": 0.0026, **refs}}
    method = adapters.report("search", results)["methods"]["full"]
    assert method["lr"] == 5e-5 and method["mrr"] == 0.6021 and method["adapter_pct"] == 0.1235
