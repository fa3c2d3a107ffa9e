"""compress.py: student backbone from config, BPE, distillation loss, export forms, teacher
errors, and one end-to-end run on a tiny teacher (plus the reuse of that teacher)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from codereuse.compression.pipeline import run as compress_run
from codereuse.compression import student as student_lib
from codereuse.compression.distill import DistillationModule, distillation_loss
from codereuse.compression.settings import DistillSettings
from codereuse.compression.space import Architecture
from codereuse.compression.student_training import write_init
from codereuse.compression.teacher import Teacher, load_teacher
from codereuse.compression.tokenizer import train_bpe
from codereuse.errors import ConfigError
from conftest import CONF, ROOT, STDLIB, compose_train, run_env

CODE = [p.read_text() for p in sorted((STDLIB / "json").glob("*.py"))]
PAIRS = [{"code1": a[:400], "code2": b[:400], "label": i % 2} for i, (a, b) in enumerate(zip(CODE, CODE[1:] + CODE[:1]))] * 3
DISTILL = OmegaConf.to_container(OmegaConf.load(CONF / "compress.yaml").distill)  # the defaults, as compress.py reads them


def distill_settings(**changes) -> dict:
    return {**DISTILL, **changes}


def compose_compress(overrides: list[str], output_dir: Path):
    return compose_train(overrides, output_dir, config_name="compress")


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A random student built through ``model.source=config`` from a trained BPE."""
    root = tmp_path_factory.mktemp("student")
    tokenizer = train_bpe(CODE, 600)
    write_init(root / "init", Architecture(2, 32, 2, 64, len(tokenizer)), 96, 2, tokenizer, 0.1)
    spec = {"name": "student", "source": "config", "path": str(root / "init"), "max_length": 96, "pooling": "cls"}
    module = DistillationModule(spec, {"name": "clone", "family": "classification", "num_labels": 2}, DISTILL).eval()
    return root, module


def test_bpe_has_the_searched_vocabulary_and_cross_encodes_pairs(tmp_path):
    tokenizer = train_bpe(CODE, 500)
    assert len(tokenizer) == 500
    ids = tokenizer("def f(x):", "return x")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids.count(tokenizer.sep_token_id) == 2 and ids[-1] == tokenizer.sep_token_id
    tokenizer.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)("def f(x):", "return x")["input_ids"] == ids


def test_backbone_from_config_is_random_with_its_tokenizer(student):
    _, module = student
    backbone = module.model.backbone
    assert (backbone.config.hidden_size, backbone.config.num_hidden_layers, backbone.config.vocab_size) == (32, 2, len(module.tokenizer))
    assert module.model.spec.source == "config" and module.tokenizer.pad_token == "<pad>"
    with pytest.raises(ConfigError, match="model.path"):
        DistillationModule({"name": "s", "source": "config"}, {"name": "clone", "family": "classification", "num_labels": 2},
                           DISTILL)


def test_distillation_loss_is_t_squared_kl_with_an_optional_hard_mix():
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 2, generator=generator), torch.randn(4, 2, generator=generator)
    t = 10.0
    # at T=10 the KL is ~1e-2, where float32 rounding alone reaches a relative 1e-5: the reference is float64
    p = torch.softmax(teacher.double() / t, -1)
    kl = (p * (p.log() - torch.log_softmax(student.double() / t, -1))).sum(-1).mean() * t * t
    assert distillation_loss(student, teacher, None, t, 0.0) == pytest.approx(kl.item(), rel=1e-4)
    # float32 KL of a distribution with itself, times T^2 = 100: zero up to rounding
    assert distillation_loss(teacher, teacher, None, t, 0.0).item() == pytest.approx(0.0, abs=1e-4)
    labels = torch.tensor([0, 1, -100, -100])
    log_p = torch.log_softmax(student.double(), -1)
    # cross-entropy of the two labelled rows, summed, over the whole batch of four
    ce = -(log_p[0, 0] + log_p[1, 1]) / 4
    assert distillation_loss(student, teacher, labels, t, 0.25) == pytest.approx((0.75 * kl + 0.25 * ce).item(), rel=1e-4)
    unlabelled = torch.full((4,), -100)  # no labelled row: the soft term keeps its (1 - w) share
    assert distillation_loss(student, teacher, unlabelled, t, 0.5) == pytest.approx(0.5 * kl.item(), rel=1e-4)


def test_distill_settings_name_the_key_of_a_bad_value(tmp_path):
    settings = DistillSettings.from_dict(DISTILL)
    assert settings.temperature == DISTILL["temperature"] and settings.optim.lr == DISTILL["optim"]["lr"]
    assert DistillSettings.from_dict(settings.to_dict()) == settings  # plain data, as a checkpoint stores it
    for key, value in (("temperature", 0), ("hard_weight", 1.5), ("feature_weight", -1), ("task_source", "yes"),
                       ("max_train_examples", 0), ("max_steps", 0), ("batch_size", 0), ("dropout", 1.0)):
        with pytest.raises(ConfigError, match=rf"^distill\.{key}="):
            DistillSettings.from_dict(distill_settings(**{key: value}))
    with pytest.raises(ConfigError, match=r"^distill\.max_epochs=-1 .*max_steps"):  # no limit at all
        DistillSettings.from_dict(distill_settings(max_epochs=-1, max_steps=-1))
    with pytest.raises(ConfigError, match=r"^distill\.optim\.momentum="):
        DistillSettings.from_dict(distill_settings(optim={"lr": 1e-3, "momentum": 0.9}))
    with pytest.raises(ConfigError, match=r"^distill\.temprature="):
        DistillSettings.from_dict(distill_settings(temprature=2))
    with pytest.raises(ConfigError, match=r"^distill\.temperature=None .*missing"):
        DistillSettings.from_dict({k: v for k, v in DISTILL.items() if k != "temperature"})
    # checked before the teacher is looked for (or trained)
    cfg = compose_compress(["distill.temperature=0", f"teacher={tmp_path / 'missing'}"], tmp_path / "run")
    with pytest.raises(ConfigError, match=r"^distill\.temperature=0 "):
        compress_run(cfg)


def test_export_reproduces_the_student_in_every_form(student):
    root, module = student
    example = next(student_lib.batches(PAIRS[:2], module.tokenizer, "pair", 96, 2))
    paths = student_lib.export(module.model, module.tokenizer, ["not_clone", "clone"], root / "export", example)
    batch = next(student_lib.batches(PAIRS, module.tokenizer, "pair", 96, len(PAIRS)))
    with torch.no_grad():
        reference = module.model(batch).logits
        # plain transformers, fed by the saved tokenizer: the same logits as inside codereuse
        hf = AutoModelForSequenceClassification.from_pretrained(paths["fp32"]).eval()
        tokenizer = AutoTokenizer.from_pretrained(paths["fp32"])
        encoded = tokenizer([p["code1"] for p in PAIRS], [p["code2"] for p in PAIRS], truncation=True, max_length=96,
                            padding=True, return_tensors="pt")
        assert torch.allclose(hf(**encoded).logits, reference, atol=1e-5)
        assert hf.config.id2label == {0: "not_clone", 1: "clone"}
        int8 = student_lib.predictor("int8", paths)(batch["code_ids"], batch["code_mask"])
    assert (int8.argmax(-1) == reference.argmax(-1)).float().mean() >= 0.9
    assert student_lib.file_size(paths["int8"]) < student_lib.file_size(paths["fp32"]) * 1.05
    if "onnx" not in paths:
        pytest.skip("onnx/onnxruntime/onnxscript not installed (pip install -e '.[onnx]')")
    onnx = student_lib.predictor("onnx", paths)(batch["code_ids"], batch["code_mask"])
    assert torch.allclose(onnx, reference, atol=1e-4)  # another batch size and length than exported with


def test_broken_teachers_fail_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no such run directory"):
        load_teacher(tmp_path / "missing")
    (tmp_path / "corrupt.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        load_teacher(tmp_path / "corrupt.ckpt")
    torch.save({"hyper_parameters": {"task": {"name": "summarize", "family": "seq2seq"}}, "state_dict": {}}, tmp_path / "s.ckpt")
    with pytest.raises(ConfigError, match="seq2seq teacher .* cannot be distilled"):
        load_teacher(tmp_path / "s.ckpt")
    result = subprocess.run([sys.executable, "compress.py", f"teacher={tmp_path / 's.ckpt'}", f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=ROOT, env=run_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "cannot be distilled" in result.stderr


def test_teacher_fingerprint_follows_the_weights_not_the_checkpoint_file(student, tmp_path):
    """Soft labels are keyed on it: a moved (or identically re-trained) teacher must hit the cache."""
    from codereuse.compression.teacher import Teacher

    _, module = student
    (tmp_path / "a.ckpt").write_bytes(b"one run directory")
    (tmp_path / "b.ckpt").write_bytes(b"another, with other loop state")
    here, there = Teacher(module, tmp_path / "a.ckpt", None), Teacher(module, tmp_path / "b.ckpt", None)
    before = here.fingerprint()
    assert there.fingerprint() == before
    weight = next(module.parameters())
    saved = weight.detach().clone()
    with torch.no_grad():
        weight[0].add_(1e-3)
    try:
        assert here.fingerprint() != before
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert here.fingerprint() == before


def test_teacher_brings_the_frozen_reference_its_run_scored_on_the_whole_test_split(tmp_path):
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    checkpoint.parent.mkdir(parents=True)
    reference = {"test/frozen": 0.84, "test/frozen_se": 0.012, "test/frozen_name": "linear_probe_accuracy"}
    (tmp_path / "run" / "metrics.json").write_text(json.dumps({**reference, "test/acc": 0.87}))
    assert Teacher(None, checkpoint, {"task": {"max_eval_examples": None}}).frozen_reference() == reference
    assert Teacher(None, checkpoint, {"task": {"max_eval_examples": 100}}).frozen_reference() == {}  # a subset
    (tmp_path / "run" / "metrics.json").write_text("{not json")
    assert Teacher(None, checkpoint, None).frozen_reference() == {}


def test_teacher_targets_are_the_logits_and_the_classifier_input_of_one_cached_pass(student, tmp_path, monkeypatch):
    from codereuse.compression import teacher as teacher_lib

    _, module = student
    teacher = teacher_lib.Teacher(module, tmp_path / "t.ckpt", None)
    records = [{"code": code[:300]} for code in CODE]
    targets = teacher_lib.teacher_targets(teacher, records, tmp_path, features=True, progress=False)
    assert targets.logits.shape == (len(CODE), 2) and targets.features.shape == (len(CODE), 32)
    with torch.no_grad():  # the features are exactly what the output layer turns into the logits
        assert torch.allclose(module.model.head.net[-1](targets.features), targets.logits, atol=1e-5)

    def no_teacher(*args):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(teacher_lib, "_teacher_pass", no_teacher)
    again = teacher_lib.teacher_targets(teacher, records, tmp_path, features=True, progress=False)
    assert torch.equal(again.logits, targets.logits)
    assert torch.allclose(again.features, targets.features, atol=1e-3)  # stored as float16
    assert teacher_lib.teacher_targets(teacher, records, tmp_path, progress=False).features is None


def test_feature_distillation_adds_a_projected_mse_on_standardised_teacher_features(student):
    from codereuse.compression.distill import standardise

    root, _ = student
    spec = {"name": "student", "source": "config", "path": str(root / "init"), "max_length": 96, "pooling": "cls"}
    task = {"name": "clone", "family": "classification", "num_labels": 2, "dropout": 0.0}
    with pytest.raises(ConfigError, match="feature_size"):
        DistillationModule(spec, task, distill_settings(feature_weight=1.0))
    module = DistillationModule(spec, task, DistillSettings.from_dict(distill_settings(feature_weight=0.5)), feature_size=8)
    assert module.hparams.distill["feature_weight"] == 0.5  # checkpoints hold plain data
    logits, features = torch.randn(len(CODE), 2), torch.randn(len(CODE), 8) * 3 + 1
    with pytest.raises(ConfigError, match=rf"shape \({len(CODE)}, 8\)"):
        module.set_soft_targets(logits, features[:, :4])
    module.set_soft_targets(logits, features)
    targets = standardise(features)
    assert torch.equal(standardise(features[:1]), torch.zeros(1, 8))  # one row: nothing to scale, no NaN
    assert torch.allclose(targets.mean(0), torch.zeros(8), atol=1e-5) and torch.allclose(targets.std(0, correction=0), torch.ones(8), atol=1e-5)

    batch = next(student_lib.batches([{"code": c[:300]} for c in CODE[:4]], module.tokenizer, "classification", 96, 4))
    batch["labels"] = torch.full((4,), -100)
    loss = module.eval().training_step(batch, 0)  # eval: no dropout, so the loss can be recomputed
    with torch.no_grad():
        pooled = module.model.embed(batch, "code")
        representation = module.model.head.net[:-1](pooled)
        student_logits = module.model.head.net[-1](representation)
        expected = distillation_loss(student_logits, logits[:4], None, DISTILL["temperature"], 0.0) + 0.5 * torch.nn.functional.mse_loss(
            module.feature_projection(representation), targets[:4])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)
    loss.backward()
    assert module.feature_projection.weight.grad.abs().sum() > 0
    grouped = {id(p) for group in module.parameter_groups() for p in group["params"]}
    assert {id(p) for p in module.feature_projection.parameters()} <= grouped
    assert not any("projection" in key for key in module.model.state_dict())  # the exported student has none of it


TINY = ["task=clone", "model=tiny", "logger=none", "trainer.max_steps=4", "task.max_train_examples=48", "task.max_eval_examples=16",
        "task.max_length=48", "search.population=6", "search.generations=2", "budget_mb=0.5", "distill.max_epochs=1",
        "distill.max_train_examples=96", "latency_repeats=2", "export_onnx=false"]


def test_default_teacher_is_trained_then_reused_and_the_student_fits_the_budget(tmp_path, code_tree, capsys):
    common = [*TINY, f"data.source_dir={code_tree}", f"teacher_dir={tmp_path / 'teachers'}"]
    first = compress_run(compose_compress(common, tmp_path / "one"))
    assert "fine-tuned now" in first["teacher_note"]
    hf = tmp_path / "one" / "student" / "hf"
    assert (hf / "model.safetensors").stat().st_size <= 0.5e6
    assert first["student_fp32/size_mb"] <= 0.5 and first["search/evaluated"] == 12
    metrics = json.loads((tmp_path / "one" / "metrics.json").read_text())
    for key in ("teacher/accuracy", "teacher/f1", "student_fp32/accuracy", "student_int8/accuracy", "test/floor", "test/floor_se",
                "speedup_b1", "accuracy_drop", "student_int8/agreement_with_fp32", "teacher/val_accuracy",
                "student_fp32/val_accuracy"):
        assert isinstance(metrics[key], float), key
    assert metrics["transfer/task_rows"] == 96 and metrics["transfer/left_out"] == 0  # distill.max_train_examples
    assert metrics["test/floor_name"].endswith("_accuracy") and 0 < metrics["test/floor"] <= 1
    assert (tmp_path / "one" / "search.png").stat().st_size > 0 and (tmp_path / "one" / "students.png").stat().st_size > 0
    assert AutoModelForSequenceClassification.from_pretrained(hf).num_labels == 2

    # what benchmarks/compress.py does for its later seeds: the first run's pick, no search
    second = compress_run(compose_compress([*common, f"search.arch='{first['search/picked']}'"], tmp_path / "two"))
    assert "reused" in second["teacher_note"] and second["teacher_checkpoint"] == first["teacher_checkpoint"]
    assert second["student/arch"] == first["student/arch"] and second["search/evaluated"] == 1
    assert f"search: none, search.arch={first['search/picked']} given" in capsys.readouterr().out
    assert second["teacher/accuracy"] == first["teacher/accuracy"]


def test_harvested_code_that_copies_held_out_code_is_left_out_of_distillation():
    from types import SimpleNamespace

    from codereuse.compression.transfer_set import without_held_out

    test_code = "def area(w, h):\n    return w * h + 1"
    data = SimpleNamespace(splits={"valid": [{"code": "def f():\n    pass"}], "test": [{"code": test_code}]})
    harvested = [{"code": "def size(a, b):\n    return a * b + 2"},            # the test function, renamed
                 {"code": "def size(a, b):\n    return [a, b]"}]                 # other code
    assert without_held_out(harvested, data, ("code",)) == harvested[1:]


def test_task_source_adds_the_sources_other_functions_from_files_without_held_out_inputs(tmp_path, code_tree):
    from types import SimpleNamespace

    from codereuse.compression.transfer_set import rest_of_task_source
    from codereuse.data.registry import load_task, source_functions
    from codereuse.data.tasks import code_only

    cfg = compose_compress(["task=classify", f"data.source_dir={code_tree}", f"data.cache_dir={tmp_path}"], tmp_path / "run")
    data = load_task("classify", source_dir=str(code_tree), cache_dir=str(tmp_path), seed=0)
    teacher = SimpleNamespace(config=None)  # no run record: this config's task and data
    rest = rest_of_task_source(cfg, teacher, data)
    held_out_files = {r["file"] for split in ("valid", "test") for r in data.splits[split]}
    by_file = {}
    for function in source_functions("classify", source_dir=str(code_tree), cache_dir=str(tmp_path)):
        parsed = code_only(function)
        if parsed:
            by_file.setdefault(parsed[1], set()).add(function["file"])
    inputs = {r["code"] for split in data.splits.values() for r in split}
    codes = [r["code"] for r in rest]
    assert len(codes) > len(data.splits["train"]) // 2 and len(set(codes)) == len(codes)
    assert not inputs & set(codes)  # none of the task's own inputs, labelled or held out
    assert all(by_file[code] - held_out_files for code in codes)  # each also lives in a file with no held-out input
    with pytest.raises(ConfigError, match="published files"):
        rest_of_task_source(cfg, teacher, SimpleNamespace(name="classify", family="classification",
                                                          splits={"train": [{"code": "def f(): pass"}]}))
    with pytest.raises(ConfigError, match="pairs the task builds"):
        rest_of_task_source(cfg, teacher, SimpleNamespace(name="clone", family="pair", splits={}))


def test_every_distillation_seed_reads_the_same_extra_code(tmp_path, code_tree):
    import shutil
    from types import SimpleNamespace

    from codereuse.compression.teacher_run import load_data
    from codereuse.compression.transfer_set import transfer_set
    from codereuse.data.registry import load_task

    extra = tmp_path / "extra"  # packages the task (code_tree) does not hold
    for package in ("asyncio", "dbm", "zoneinfo"):
        shutil.copytree(STDLIB / package, extra / package, ignore=shutil.ignore_patterns("__pycache__"))

    def extra_inputs(seed: int) -> list[str]:
        cfg = compose_compress(["task=classify", f"data.source_dir={code_tree}", f"data.cache_dir={tmp_path}",
                                f"distill.extra_source_dir={extra}", f"seed={seed}"], tmp_path / f"run{seed}")
        teacher = SimpleNamespace(config=None, task={"name": "classify"}, checkpoint=tmp_path / "t.ckpt")
        settings = DistillSettings.from_dict(cfg.distill)
        return [r["code"] for r in transfer_set(cfg, settings, teacher, load_data(cfg, teacher)).rows[-1]]

    built = [{r["code"] for rows in load_task("classify", source_dir=str(extra), cache_dir=str(tmp_path),
                                                 seed=seed).splits.values() for r in rows} for seed in (0, 1)]
    assert built[0] != built[1]  # on this tree the task's sampling depends on its seed ...
    assert extra_inputs(0) == extra_inputs(1)  # ... and the extra code is built with the split seed, not seed=


def test_installed_code_copies_a_packages_sources_without_its_tests(tmp_path, monkeypatch):
    import sys

    from conftest import ROOT

    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    package = tmp_path / "site" / "fakepkg"
    (package / "tests").mkdir(parents=True)
    (package / "sub").mkdir()
    for path in ("__init__.py", "sub/mod.py", "tests/test_mod.py", "data.txt"):
        (package / path).write_text("x = 1\n")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from installed_code import copy_sources
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    report = copy_sources(tmp_path / "out", ("fakepkg", "not_installed_anywhere"))
    assert report == {"files": 2, "packages": ["fakepkg"]}
    copied = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert copied == ["fakepkg/__init__.py", "fakepkg/sub/mod.py"]


def test_compress_benchmark_summarises_seeds_and_reports_the_pareto_pick(monkeypatch):
    """benchmarks/compress.py's bookkeeping (seeds reuse the first pick and teacher; --pareto; a task it
    cannot distil), compress runs faked."""
    import importlib.util

    from conftest import ROOT

    # loaded by path: the name `compress` is also the top-level entry point
    spec = importlib.util.spec_from_file_location("benchmark_compress", ROOT / "benchmarks" / "compress.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = []

    def fake_run(overrides):
        calls.append(overrides)
        seed = int(next(o for o in overrides if o.startswith("seed="))[5:])
        pareto = "search.mode=pareto" in overrides
        run = {"teacher_checkpoint": "t.ckpt", "search/picked": "L2 H32 A2 I64 V1000", "student/arch": "L2 H32 A2 I64 V1000",
               "search/seq_len": 40, "wall_seconds": 60.0, "test/floor_name": "majority_accuracy", "test/floor": 0.1,
               "speedup_b1": 6.0, "speedup_b32": 8.0, "search/pareto_size": 4}
        for name, acc in (("teacher", 0.8), ("student_fp32", 0.6 + 0.1 * seed + 0.05 * pareto), ("student_int8", 0.6)):
            run.update({f"{name}/size_mb": 1.0, f"{name}/params": 10, f"{name}/latency_b1_ms": 2.0,
                        f"{name}/latency_b32_ms": 20.0, f"{name}/accuracy": acc, f"{name}/f1": acc})
        run["student_int8/agreement_with_fp32"] = 0.99
        return run

    monkeypatch.setattr(bench, "compress", fake_run)
    line = bench.main(["--seeds", "0,1", "--pareto", "--tasks", "search,classify"])
    # a retrieval task has no classifier to distil: reported, never run
    assert line["tasks"]["search"] == {"skipped": "search is a retrieval task: compress.py distils a classifier's soft labels"}
    result = line["tasks"]["classify"]
    assert all("task=classify" in c for c in calls) and len(calls) == 3
    assert "search.arch='L2 H32 A2 I64 V1000'" in calls[1] and "teacher=t.ckpt" in calls[1]
    assert "teacher=t.ckpt" in calls[2] and not any(o.startswith("search.arch") for o in calls[2])
    assert result["student_fp32"]["accuracy"] == pytest.approx(0.65) and result["student_fp32"]["accuracy_se"] == pytest.approx(0.05)
    assert result["accuracy_drop"] == pytest.approx(0.15) and result["minutes"] == pytest.approx(2.0)
    assert result["pareto_pick"]["accuracy"] == pytest.approx(0.65) and result["pareto_pick"]["front_size"] == 4
    # the floor sits in the task's yardstick block; without a frozen reference it is no yardstick
    assert (result["metric"], result["floor_name"], result["floor"]) == ("acc", "majority_accuracy", 0.1)
    assert result["frozen"] is None and result["best_arm"] == "teacher" and result["yardstick"] is False
