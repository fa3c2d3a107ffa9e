"""``train.py``'s run(cfg) end to end with tiny models on real code: every task x freeze policy,
every peft strategy x task family x backbone family."""
from __future__ import annotations

import json

import pytest

from codereuse.training.run import run
from codereuse.evaluation.floors import floors
from codereuse.data.registry import load_task
from codereuse.errors import ConfigError
from conftest import CONF, compose_train, fast_overrides, shared_data

TASKS = ["defect", "clone", "classify", "summarize", "search", "assert", "translate"]
POLICIES = sorted(f.stem for f in (CONF / "freeze").glob("*.yaml"))
FAMILY_TASKS = {"classification": "defect", "pair": "clone", "retrieval": "search", "seq2seq": "summarize"}
METRIC_KEYS = {"defect": "test/f1", "clone": "test/f1", "classify": "test/f1", "summarize": "test/bleu",
               "search": "test/mrr", "assert": "test/bleu", "translate": "test/bleu"}


def train(tmp_path, code_tree, *overrides: str) -> dict:
    extra = list(overrides)
    if "task=translate" in extra:
        extra.append(f"data.dir={shared_data('codexglue-java-cs')}")
    metrics = run(compose_train(fast_overrides(*extra), tmp_path, source_dir=code_tree))
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(metrics)
    return metrics


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("task", TASKS)
def test_every_task_under_every_freeze_policy(task, policy, tmp_path, code_tree):
    metrics = train(tmp_path, code_tree, f"task={task}", f"freeze={policy}")
    score = metrics[METRIC_KEYS[task]]
    assert 0.0 <= score <= 1.0
    assert 0 < metrics["trainable_params"] <= metrics["total_params"]
    if policy != "none":
        assert metrics["trainable_params"] < metrics["total_params"]
    assert (metrics["task"], metrics["freeze"], metrics["freeze_ignored"]) == (task, policy, False)
    assert metrics["wall_seconds"] > 0 and (tmp_path / "checkpoints" / "last.ckpt").is_file()


MATRIX = [(model, strategy, family) for model in ("tiny", "tiny_t5", "tiny_gpt") for strategy in ("lora", "prefix", "prompt")
          for family in FAMILY_TASKS if not (model == "tiny_t5" and strategy == "prefix" and family != "seq2seq")]


@pytest.mark.parametrize(("model", "strategy", "family"), MATRIX)
def test_peft_strategies_on_every_family(model, strategy, family, tmp_path, code_tree):
    metrics = train(tmp_path, code_tree, f"model={model}", f"strategy={strategy}", f"task={FAMILY_TASKS[family]}")
    assert metrics["trainable_params"] < metrics["total_params"] / 2
    assert metrics["strategy"] == strategy and metrics["freeze_ignored"] is True  # default freeze=top2 does not apply


def test_unsupported_peft_combination_is_rejected_up_front(tmp_path, code_tree):
    with pytest.raises(ConfigError, match="prefix tuning of encoder-decoder tiny_t5 only works on seq2seq"):
        train(tmp_path, code_tree, "model=tiny_t5", "strategy=prefix", "task=clone")


@pytest.mark.slow
def test_training_learns_well_above_the_tasks_floor(tmp_path, code_tree):
    """A real learning signal, not just "it ran": a head on the packaged MiniLM's cached frozen features
    tells four packages apart. The majority class scores about 0.15 on these test records;
    the margin of 0.25 is also above the best any single-class answer scores on this test split (0.39)."""
    metrics = train(tmp_path, code_tree, "model=minilm", "task=classify", "freeze=all", "freeze.cache=true",
                    "trainer.max_steps=-1", "trainer.max_epochs=10", "task.max_train_examples=300",
                    "task.max_eval_examples=null", "trainer.limit_val_batches=null", "trainer.limit_test_batches=null",
                    "task.batch_size=32", "task.max_length=64", "strategy.optim.lr=3e-3", "callbacks=none")
    majority = floors(load_task("classify", source_dir=str(code_tree), options={"num_classes": 4}))["majority_accuracy"]
    assert metrics["test/acc"] > majority + 0.25
    # the head on frozen features and the frozen linear probe read the same features
    assert metrics["test/frozen_name"] == "linear_probe_accuracy" and metrics["test/frozen"] > majority + 0.25


def test_pair_results_are_broken_down_by_kind_beside_the_floors(tmp_path, code_tree, capsys):
    # (tests/test_sweeps.py checks the same keys and values come back from DDP workers)
    metrics = train(tmp_path, code_tree, "task=clone")
    kinds = sorted(k.removeprefix("test/acc/") for k in metrics if k.startswith("test/acc/"))
    assert kinds and set(kinds) <= {"rewrite", "hard_negative", "sibling"} and "rewrite" in kinds
    assert sorted(k.removeprefix("test/floor/") for k in metrics if k.startswith("test/floor/")) == kinds
    for prefix, overall in (("test/acc/", metrics["test/acc"]), ("test/floor/", metrics["test/floor"])):
        per_kind = [metrics[prefix + kind] for kind in kinds]
        assert min(per_kind) - 1e-6 <= overall <= max(per_kind) + 1e-6  # the overall is their weighted mean
    table = capsys.readouterr().out
    assert "test/acc/rewrite" in table and "test/floor/rewrite" not in table  # printed beside, not as rows


@pytest.mark.parametrize("task", ["defect", "clone", "search", "summarize"])
def test_every_run_reports_its_lexical_floor_and_the_frozen_model(task, tmp_path, code_tree, capsys):
    metrics = train(tmp_path, code_tree, f"task={task}")
    out = capsys.readouterr().out
    assert metrics["test/floor_se"] >= 0 and "over the lexical floor" in out
    if task == "summarize":  # no untrained generator to score
        assert "test/frozen" not in metrics and "frozen    none" in out
        return
    assert metrics["test/frozen_name"] == ("zero_shot_mrr" if task == "search" else "linear_probe_accuracy")
    assert 0.0 <= metrics["test/frozen"] <= 1.0 and metrics["test/frozen_se"] >= 0
    assert "frozen    tiny" in out and "over the frozen model" in out
    if task == "clone":  # per kind too, beside the model's
        kinds = {k.removeprefix("test/acc/") for k in metrics if k.startswith("test/acc/")}
        assert kinds and kinds == {k.removeprefix("test/frozen/") for k in metrics if k.startswith("test/frozen/")}


def test_frozen_reference_can_be_switched_off(tmp_path, code_tree, capsys):
    metrics = train(tmp_path, code_tree, "task=defect", "frozen_reference=false")
    assert "test/frozen" not in metrics and "frozen    " not in capsys.readouterr().out


def test_a_callback_or_logger_set_to_null_is_switched_off(tmp_path, code_tree):
    metrics = train(tmp_path, code_tree, "task=defect", "callbacks.progress_bar=null", "logger=csv", "logger.csv=null")
    assert "test/acc" in metrics and not (tmp_path / "csv").exists()
