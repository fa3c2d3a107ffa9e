"""select.py: the stdlib shadow, probe sample, candidates, features + cache, evaluation, end to end."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from codereuse.data.types import TaskData
from codereuse.errors import ConfigError
from codereuse.models import load_backbone
from codereuse.selection.candidates import build_pool, reinitialised, truncated
from codereuse.selection.evaluation import heuristic_scores, ranking_metrics
from codereuse.selection.features import candidate_features
from codereuse.selection.layers import suggest_freeze_depth
from codereuse.selection.probe import probe_sample, subsample

from conftest import ROOT, compose_train, run_env

TINY = {"name": "tiny", "architecture": "encoder", "source": "tiny", "max_length": 64, "pooling": "mean",
        "tiny": {"arch": "bert", "hidden": 32, "layers": 3, "heads": 2}}


@pytest.mark.parametrize("command", [["-c", "import subprocess, selectors; selectors.DefaultSelector()"],
                                     ["-m", "pip", "--version"], ["-m", "pytest", "--version"]])
def test_select_py_does_not_shadow_the_stdlib_select(command):
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def classification_task(counts: dict[int, int]) -> TaskData:
    rows = [{"code": f"def f{label}_{i}(): return {i}", "label": label} for label, n in counts.items() for i in range(n)]
    return TaskData("toy", "classification", {"train": rows, "valid": rows[:2], "test": rows[:2]}, ["a", "b", "c"])


def test_probe_sample_is_class_balanced_and_seeded():
    task = classification_task({0: 100, 1: 100, 2: 5})
    probe = probe_sample(task, 45, seed=0)
    counts = np.bincount(probe.labels)
    assert counts.tolist() == [20, 20, 5]  # the small class gives its unused share to the others
    assert probe.fingerprint == probe_sample(task, 45, seed=0).fingerprint
    assert probe.fingerprint != probe_sample(task, 45, seed=1).fingerprint
    rows = subsample(probe.labels, 0.5, np.random.default_rng(0))
    assert len(set(rows.tolist())) == len(rows)  # without replacement


def test_truncated_candidate_equals_the_parents_lower_layer_and_reinit_differs():
    parent = load_backbone(TINY)
    short = load_backbone({**TINY, "path": str(truncated(TINY, 2))})
    assert short.model.config.num_hidden_layers == 2
    ids = torch.tensor([[3, 40, 41, 42, 1]])
    with torch.inference_mode():
        full = parent.model.eval()(input_ids=ids, output_hidden_states=True).hidden_states[2]
        cut = short.model.eval()(input_ids=ids).last_hidden_state
    torch.testing.assert_close(cut, full)
    fresh = load_backbone({**TINY, "path": str(reinitialised(TINY, 0))})
    assert not torch.equal(fresh.model.embeddings.word_embeddings.weight, parent.model.embeddings.word_embeddings.weight)


def test_a_candidate_that_fails_to_load_is_skipped_in_one_line(tmp_path):
    said = []
    pool = {"models": {"tiny": TINY, "broken": {**TINY, "source": "hub", "path": str(tmp_path / "missing")}},
            "candidates": {"tiny": {"model": "tiny"}, "broken": {"model": "broken"}}}
    candidates, skipped = build_pool(pool, "classify", say=said.append)
    assert [c.name for c in candidates] == ["tiny"]
    assert len(skipped) == 1 and "broken" in said[0] and "\n" not in said[0]


def test_features_are_cached_and_pairs_get_the_clone_heads_features(tmp_path):
    rows = [{"code1": f"x = {i}", "code2": f"y = {i % 3}", "label": i % 2} for i in range(12)]
    task = TaskData("pairs", "pair", {"train": rows, "valid": rows, "test": rows}, ["no", "yes"])
    probe = probe_sample(task, 8, seed=0)
    first = candidate_features(TINY, probe, cache_dir=tmp_path, progress=False)
    assert first.layers[3].shape == (8, 4 * 32)
    u, v = first.layers[3][:, :32], first.layers[3][:, 32:64]
    np.testing.assert_allclose(first.layers[3][:, 64:96], np.abs(u - v), rtol=1e-6)
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".json", ".npy"]
    again = candidate_features(TINY, probe, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again.layers[3], first.layers[3])
    assert again.seconds == pytest.approx(first.seconds)  # the cold time, from the cache's record


def test_last_token_pooling_ignores_the_tokenizers_padding_side(tmp_path):
    spec = {"name": "tiny_gpt", "architecture": "decoder", "source": "tiny", "max_length": 64, "pooling": "last",
            "tiny": {"arch": "gpt2", "hidden": 32, "layers": 2, "heads": 2}}
    backbone = load_backbone(spec)
    from codereuse.models.features import layer_features

    texts = ["a", "a much longer input text"]
    alone = [layer_features(backbone, [t], layers=[2], max_length=64, pooling="last", progress=False).pooled[0, 0]
             for t in texts]
    for side in ("left", "right"):
        backbone.tokenizer.padding_side = side
        batch = layer_features(backbone, texts, layers=[2], max_length=64, pooling="last", progress=False).pooled[0]
        np.testing.assert_allclose(batch, np.stack(alone), rtol=1e-4, atol=1e-5)


def test_ranking_metrics_known_answers():
    truth = {"a": 0.9, "b": 0.8, "c": 0.5, "d": 0.1}
    perfect = ranking_metrics({"a": 4, "b": 3, "c": 2, "d": 1}, truth)
    assert perfect["weighted_tau"] == pytest.approx(1) and perfect["top1_regret"] == 0
    reverse = ranking_metrics({"a": 1, "b": 2, "c": 3, "d": 4}, truth)
    assert reverse["kendall_tau"] == pytest.approx(-1)
    assert reverse["top1_regret"] == pytest.approx((0.9 - 0.1) / 0.9)
    assert heuristic_scores(["a", "b"], {"other": {"a": 0.2, "b": 0.7}}) == {"a": -2.0, "b": -1.0}


def test_suggested_freeze_depth():
    assert suggest_freeze_depth({0: 0.1, 1: 0.5, 2: 0.9, 3: 0.91, 4: 0.6}, 4)["freeze"] == "top2"
    assert suggest_freeze_depth({0: 0.1, 1: 0.2, 2: 1.0}, 2)["freeze"] == "all"


def compose_select(overrides: list[str], output_dir):
    return compose_train(overrides, output_dir, config_name="select")


def test_ground_truth_ranks_pair_tasks_by_accuracy_unless_told():
    from codereuse.selection.pipeline import ground_truth_metric

    assert ground_truth_metric(None, "pair", "val/f1") == "acc"  # F1 rewards calling every pair a clone
    assert ground_truth_metric(None, "classification", "val/f1") == "f1"
    assert ground_truth_metric(None, "retrieval", "val/mrr") == "mrr"
    assert ground_truth_metric("f1", "pair", "val/f1") == "f1"


def test_a_ground_truth_metric_the_runs_do_not_report_is_one_clear_error(tmp_path, monkeypatch):
    from codereuse.selection.brute_force import _record

    monkeypatch.setenv("CODEREUSE_CACHE", str(tmp_path))
    metrics = {"test/acc": 0.5, "test/f1": 0.4, "wall_seconds": 1.0}
    budget = {"task": "clone", "data_seed": 0, "seed": 0, "overrides": [], "options": {}}
    with pytest.raises(ConfigError, match=r"brute_force.metric.*'bleu'.*acc.*f1"):
        _record("tiny", "w", metrics, "bleu", **budget)


def test_select_end_to_end_with_evaluation(tmp_path, code_tree, capsys):
    from codereuse.selection.pipeline import run

    budget = json.dumps(["freeze=top1", "trainer.max_steps=2", "trainer.max_epochs=1", "task.max_train_examples=16",
                         "task.max_eval_examples=16", "task.batch_size=8", "task.max_length=32",
                         "trainer.limit_val_batches=1", "callbacks=none", "logger=none"])
    cfg = compose_select(["pool=tiny", "task=classify", "task.options.num_classes=4", f"data.source_dir={code_tree}",
                          "probe.size=24", "scorer=logme", "evaluate=true", "bootstrap.draws=2", "bootstrap.truth_draws=20",
                          "brute_force.lrs=[1e-3,1e-2]", "brute_force.seeds=[0]",
                          "~pool.candidates.tiny_l2", f"brute_force.overrides={budget}",
                          "layer_selection.model=tiny"], tmp_path)
    summary = run(cfg)
    assert set(summary["candidates"]) == {"tiny", "tiny_l1", "tiny_random"}
    assert set(summary["evaluation"]) >= {"logme", "size", "pretraining_data", "heuristic", "random"}
    assert summary["evaluation"]["logme"]["weighted_tau_no_controls"] is None  # one non-control candidate
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["ground_truth"]) == set(summary["candidates"])
    # each candidate's rate chosen on validation from the grid; intervals against redrawn ground truths
    assert {d["lr"] for d in metrics["ground_truth_detail"].values()} <= {1e-3, 1e-2}
    assert set(metrics["ground_truth_tied_best"]) <= set(summary["candidates"]) and metrics["ground_truth_tied_best"]
    assert "top1_regret_truth_ci" in metrics["evaluation"]["logme"] and "top1_within_truth_ties" in metrics["evaluation"]["logme"]
    assert (tmp_path / "selection.png").stat().st_size > 0 and (tmp_path / "layers.png").is_file()
    header = (tmp_path / "selection.csv").read_text().splitlines()[0]
    assert header.startswith("candidate,kind,params,logme") and header.endswith("ground_truth,same_weights_as")
    assert "rankings vs fine-tuned test/f1" in capsys.readouterr().out


def test_truncated_candidates_read_their_parents_pass_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEREUSE_CACHE", str(tmp_path))
    gpt = {"name": "tiny_gpt", "architecture": "decoder", "source": "tiny", "max_length": 64, "pooling": "last",
           "tiny": {"arch": "gpt2", "hidden": 32, "layers": 3, "heads": 2}}
    pool = {"models": {"tiny": TINY, "gpt": gpt},
            "candidates": {"tiny": {"model": "tiny"}, "tiny_l2": {"model": "tiny", "kind": "truncated", "layers": 2},
                           "gpt": {"model": "gpt"}, "gpt_l1": {"model": "gpt", "kind": "truncated", "layers": 1}}}
    candidates, _ = build_pool(pool, "classify", say=lambda line: None)
    probe = probe_sample(classification_task({0: 6, 1: 6}), 8, seed=0)
    from codereuse.selection import features as module

    passes = []
    real = module.layer_features
    monkeypatch.setattr(module, "layer_features", lambda backbone, *a, **k: passes.append(k["layers"]) or real(backbone, *a, **k))
    options = {"cache_dir": tmp_path / "features", "progress": False, "max_length": 64}
    shared, skipped = module.pool_features(candidates, probe, **options)
    assert skipped == [] and list(shared) == ["tiny", "tiny_l2", "gpt", "gpt_l1"]
    assert passes == [[2, 3], [1, 3], [1]]  # tiny's one pass serves tiny_l2; gpt_l1 needs its own
    alone = {c.name: candidate_features(c.spec, probe, **{**options, "cache_dir": tmp_path / "alone"}) for c in candidates}
    for name in shared:
        assert list(shared[name].layers) == [alone[name].depth]
        np.testing.assert_allclose(shared[name].layers[alone[name].depth], alone[name].layers[alone[name].depth],
                                   rtol=1e-5, atol=1e-6)
        assert shared[name].weights == alone[name].weights and shared[name].params == alone[name].params
    # gpt2 normalises after its stack, so its cut model is not its parent's lower layer: extracted alone
    gpt_parent = candidate_features(gpt, probe, layers=[1], **{**options, "cache_dir": tmp_path / "parent"})
    assert not np.allclose(gpt_parent.layers[1], shared["gpt_l1"].layers[1], atol=1e-4)


def test_bf16_extraction_is_close_to_fp32_cached_apart_and_a_wrong_precision_fails_in_one_line(tmp_path):
    from codereuse.errors import ConfigError
    from codereuse.selection.features import resolve_precision

    probe = probe_sample(classification_task({0: 6, 1: 6}), 8, seed=0)
    fp32 = candidate_features(TINY, probe, cache_dir=tmp_path, progress=False)
    bf16 = candidate_features(TINY, probe, cache_dir=tmp_path, progress=False, precision="bfloat16")
    assert len(list(tmp_path.glob("*.npy"))) == 2  # one entry each: a bf16 run never serves an fp32 one
    a, b = fp32.layers[3], bf16.layers[3]
    assert not np.array_equal(a, b)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999
    assert resolve_precision("auto") in {"float32", "bfloat16"} and resolve_precision("float32") == "float32"
    with pytest.raises(ConfigError, match="probe.precision"):
        resolve_precision("fp16")


def test_brute_force_multirun_fine_tunes_each_candidate_as_a_job_and_reports_a_failed_one(tmp_path, code_tree):
    from codereuse.selection.brute_force import cached_result, fine_tune_multirun

    budget = ["freeze=top1", "trainer.max_steps=2", "trainer.max_epochs=1", "task.max_train_examples=16",
              "task.max_eval_examples=16", "task.batch_size=8", "task.max_length=32", "trainer.limit_val_batches=0",
              "callbacks=none", "logger=none", f"data.source_dir={code_tree}"]
    common = {"task": "classify", "data_seed": 0, "seed": 0, "overrides": budget, "options": {"num_classes": 4}}
    broken = {**TINY, "name": "broken", "source": "hub", "path": str(tmp_path / "missing")}
    # "tiny" also names a model config: the job must train this spec, not conf/model/tiny.yaml
    jobs = {"tiny": ({**TINY, "tiny": {**TINY["tiny"], "layers": 2}}, "w-tiny"), "broken": (broken, "w-broken")}
    results, failed = fine_tune_multirun(jobs, **common, output_dir=tmp_path / "bf", metric="f1",
                                         conf_dir=str(ROOT / "conf"))
    assert set(results) == {"tiny"} and 0.0 <= results["tiny"]["value"] <= 1.0
    assert len(failed) == 1 and failed[0].startswith("broken:") and "\n" not in failed[0]
    assert cached_result("w-tiny", "f1", **common)["value"] == results["tiny"]["value"]
    assert cached_result("w-broken", "f1", **common) is None
    # every test metric is kept: the ground truth can be re-judged by accuracy without re-training
    assert cached_result("w-tiny", "acc", **common)["value"] == results["tiny"]["test_metrics"]["test/acc"]
    config = json.loads((tmp_path / "bf" / "multirun" / "candidate-tiny" / "metrics.json").read_text())
    assert config["test/f1"] == results["tiny"]["value"]
    job = (tmp_path / "bf" / "multirun" / "candidate-tiny" / ".hydra" / "config.yaml").read_text()
    assert "layers: 2" in job
