"""Telly's layer analysis: probe labels, probes, CKA/RSA drift, the freeze-depth rule, the CLI and
the training callback (tiny model, small real-code tree)."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest
import pytorch_lightning as pl
import yaml
from hydra.utils import instantiate
from omegaconf import OmegaConf
from pytorch_lightning.loggers import WandbLogger

from codereuse.analysis.__main__ import main
from codereuse.analysis.callback import LayerAnalysisCallback
from codereuse.analysis.config import ProbeConfig
from codereuse.analysis.drift import drift_table, function_features, linear_cka, rsa, suggest_freeze
from codereuse.models.features import LayerFeatures, check_layers, encode, pretrained_backbone, trained_backbone
from codereuse.analysis.probe_data import (
    CloneRetrieval,
    _token_labels,
    build_probe_set,
    clone_positives,
    clone_task,
    complexity_class,
    cyclomatic_complexity,
    lexical_labels,
    published_retrieval,
    syntax_labels,
)
from codereuse.analysis.probes import (
    PROPERTIES,
    bag_of_words_map,
    clone_map,
    mean_average_precision,
    probe_layers,
    random_ranking_map,
    retrieval_map,
)
from codereuse.analysis.provenance import checkpoint_train_config, heldout_config
from codereuse.training.resume import RunRecord
from codereuse.training.run import build_datamodule, build_module
from codereuse.data.registry import load_task
from codereuse.data.types import DataError
from codereuse.errors import ConfigError
from codereuse.metrics import mean_reciprocal_rank
from codereuse.methods.peft_tuning import PeftModule
from codereuse.models import load_backbone
from conftest import CONF, ROOT, compose_train, fast_overrides, run_env

TINY = yaml.safe_load((CONF / "model" / "tiny.yaml").read_text())
SMALL = dict(max_functions=40, clone_pairs=12, tokens_per_function=8, max_length=64, seed=42)
RNG = np.random.default_rng(0)


# --- CKA, RSA and the suggested depth ----------------------------------------------------------
def test_cka_is_one_on_itself_and_invariant_to_rotation_and_scale():
    x = RNG.normal(size=(200, 16))
    rotation, _ = np.linalg.qr(RNG.normal(size=(16, 16)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x @ rotation) == pytest.approx(1.0)
    assert linear_cka(x, 7.5 * x) == pytest.approx(1.0)
    assert linear_cka(x, x + 3.0) == pytest.approx(1.0)  # centring: a shift is no change


def test_cka_of_independent_features_is_low_and_of_related_features_in_between():
    x, y = RNG.normal(size=(1000, 8)), RNG.normal(size=(1000, 8))
    assert linear_cka(x, y) < 0.05
    assert 0.2 < linear_cka(x, x + y) < 0.9
    assert np.isnan(linear_cka(np.ones((10, 3)), x[:10]))  # constant features: undefined, not 0 or 1


def test_rsa_is_one_on_itself_and_low_for_independent_features():
    x = RNG.normal(size=(60, 12))
    assert rsa(x, x) == pytest.approx(1.0)
    assert rsa(x, 2 * x, "pearson") == pytest.approx(1.0)  # cosine similarity ignores scale
    assert abs(rsa(x, RNG.normal(size=(60, 12)))) < 0.1
    with pytest.raises(ConfigError, match="rsa='kendall'"):
        rsa(x, x, "kendall")


@pytest.mark.parametrize(("drift", "first", "freeze", "frozen"), [
    ([0.01, 0.02, 0.03, 0.05, 0.2, 0.4, 0.6], 4, "top3", 4),  # layers 4..6 moved: train them
    ([0.01, 0.02, 0.15, 0.05, 0.2, 0.4, 0.6], 2, "top5", 2),  # the lowest crossing counts, not a later dip
    ([0.00, 0.00, 0.00, 0.00, 0.00, 0.09, 0.10], 6, "top1", 6),  # reaching the threshold counts
    ([0.30, 0.20, 0.20, 0.20, 0.20, 0.20, 0.20], 0, "none", 0),  # even the embeddings moved
    ([0.01] * 7, None, "all", 7),  # nothing moved: head only
])
def test_suggested_freeze_depth_rule(drift, first, freeze, frozen):
    suggestion = suggest_freeze(list(range(7)), drift, threshold=0.1, num_layers=6)
    assert (suggestion["first_drifting_layer"], suggestion["freeze"], suggestion["frozen_layers"]) == (first, freeze, frozen)
    assert suggestion["command"] == f"python train.py freeze={freeze}"


def test_drift_table_finds_the_layers_that_changed():
    before = RNG.normal(size=(4, 80, 10))
    after = before.copy()
    after[2:] = RNG.normal(size=(2, 80, 10))  # layers 2 and 3 were rewritten, 0 and 1 untouched
    table = drift_table(LayerFeatures([0, 1, 2, 3], before), LayerFeatures([0, 1, 2, 3], after), "synthetic")
    assert table.values["cka"][:2] == pytest.approx([1.0, 1.0])
    assert max(table.values["cka"][2:]) < 0.5 and max(table.values["rsa"][2:]) < 0.3
    assert table.info["suggestion"]["freeze"] == "top2"
    with pytest.raises(ConfigError, match="threshold=1.5"):
        drift_table(LayerFeatures([0], before[:1]), LayerFeatures([0], after[:1]), "synthetic", threshold=1.5)


def test_trained_backbone_sees_lora_adapters_and_rejects_prompt_tuning():
    task = {"family": "pair", "num_labels": 2}
    lora = PeftModule(backbone=TINY, task=task, adapter={"method": "lora", "r": 4, "target_modules": "all-linear"})
    for name, parameter in lora.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: give the adapters an effect
            parameter.data.normal_(0, 0.5)
    codes = [f"def f{i}(x):\n    return x * {i} + {i % 3}" for i in range(24)]
    config = ProbeConfig(max_length=32)
    before = function_features(pretrained_backbone(lora), codes, config, "before", progress=False)
    after = function_features(trained_backbone(lora), codes, config, "after", progress=False)
    assert np.allclose(before.pooled[0], after.pooled[0])  # LoRA leaves the embeddings alone
    assert not np.allclose(before.pooled[-1], after.pooled[-1])
    prompt = PeftModule(backbone=TINY, task=task, adapter={"method": "prompt", "num_virtual_tokens": 4})
    with pytest.raises(ConfigError, match="no drift to measure"):
        trained_backbone(prompt)


# --- probe labels on hand-written code ---------------------------------------------------------
def test_lexical_labels_of_a_snippet():
    code = "def f(x): return x + 1  # one\ns = 'a'\n"
    labels = lexical_labels(code)
    first = {code[i:j]: labels[i] for i, j in [(0, 3), (4, 5), (5, 6), (6, 7), (8, 9), (10, 16), (19, 20), (21, 22),
                                               (24, 29), (32, 33), (34, 37)]}
    assert first == {"def": "keyword", "f": "name", "(": "delimiter", "x": "name", ":": "delimiter", "return": "keyword",
                     "+": "operator", "1": "number", "# one": "comment", "=": "delimiter", "'a'": "string"}
    assert labels[3] is None and labels[9] is None  # whitespace


def test_token_labels_follow_the_tokenizer_offsets():
    code = "def f(x): return x + 1\n"
    tokenizer = load_backbone(TINY).tokenizer  # byte-level: one token per character, spaces included
    offsets = encode(tokenizer, [code], 64)["offset_mapping"][0]
    labels = _token_labels(offsets, code, lexical_labels(code), syntax_labels(ast.parse(code), code))
    by_char = {code[offsets[p][0]]: label for p, label in labels.items()}
    assert by_char["d"] == ("keyword", "FunctionDef")
    assert by_char["x"] == ("name", "Name")  # the last x (in the return) wins in this character map
    assert by_char["+"] == ("operator", "BinOp") and by_char["1"] == ("number", "Constant")
    assert by_char["r"] == ("keyword", "Return")
    assert all(not code[offsets[p][0]].isspace() for p in labels) and 0 not in labels  # no spaces, no <s>


def test_syntax_labels_are_the_innermost_node_and_handle_non_ascii():
    code = "def g(a, b='é'):\n    return a.real * b\n"
    labels = syntax_labels(ast.parse(code), code)
    at = {text: labels[code.index(text)] for text in ("def", "a,", "'é'", "real", "*", "b\n")}
    assert at == {"def": "FunctionDef", "a,": "arg", "'é'": "Constant", "real": "Attribute", "*": "BinOp", "b\n": "Name"}


@pytest.mark.parametrize(("source", "complexity", "klass"), [
    ("def f(x):\n    return x + 1", 1, 0),
    ("def f(x):\n    if x > 0:\n        return 1\n    elif x < 0:\n        return -1\n    return 0", 3, 1),
    ("def f(xs):\n    for x in xs:\n        if x and x > 1 or x is None:\n            print(x)", 5, 2),
    ("def f(xs):\n    return [x for x in xs if x if x > 2]", 4, 2),
    ("def f():\n    try:\n        g()\n    except KeyError:\n        pass\n    except ValueError:\n        pass", 3, 1),
    ("def f(x):\n    while x:\n        x = x - 1 if x > 2 else 0\n        with open(x):\n            pass\n"
     "    match x:\n        case 1:\n            pass\n        case _:\n            pass", 5, 2),
    ("def f(a, b, c):\n    return a and b and c and (a or b or c)", 6, 2),
    ("def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(6)), 7, 3),
])
def test_cyclomatic_complexity_of_hand_written_functions(source, complexity, klass):
    assert cyclomatic_complexity(ast.parse(source).body[0]) == complexity
    assert complexity_class(complexity) == klass


# --- probes, CLI, callback ---------------------------------------------------------------------
def test_probe_table_has_one_row_per_requested_layer_and_scores_in_unit_range(code_tree):
    config = ProbeConfig(source_dir=str(code_tree), **SMALL)
    backbone = load_backbone(TINY)
    probes = build_probe_set(backbone.tokenizer, config, progress=False)
    assert probes.n_train < len(probes.codes) and len(probes.lexical) == sum(len(p) for p in probes.positions)
    table = probe_layers(backbone, probes, config, check_layers([0, 3, 6], 6), progress=False)
    assert table.layers == [0, 3, 6] and table.names == ["embeddings", "layer 3", "layer 6"]
    assert list(table.values)[:5] == [*PROPERTIES, "semantic_bow"]
    scores = np.array([table.values[c] for c in table.values])
    assert scores.shape == (8, 3) and ((0 <= scores) & (scores <= 1)).all()
    with pytest.raises(ConfigError, match="layers=\\[7\\]"):
        check_layers([7], 6)
    # the default semantic set is unchanged: code1 of 12 positive rewrite pairs ranks their code2 (MRR)
    code1, code2 = clone_positives(clone_task(config, progress=False), config)
    assert (probes.clones.queries, probes.clones.candidates) == (code1, code2)
    assert table.info["counts"]["clone_pairs"] == 12
    assert "rewrite pairs" in table.info["semantic"]["source"] and not probes.clones.all_pairs
    extract = dict(layers=[0, 3, 6], max_length=SMALL["max_length"], progress=False)
    q, c = (function_features_of(backbone, codes, **extract) for codes in (code1, code2))
    assert table.values["semantic"] == pytest.approx([retrieval_map(q[i], c[i]) for i in range(3)], abs=1e-6)
    assert table.info["baselines"]["semantic"] == pytest.approx(np.mean(1 / np.arange(1, 13)))


def test_probe_cli_writes_table_files_and_ends_with_json(tmp_path, code_tree, capsys):
    main(["probe", "model=tiny", "layers=[0,6]", f"source_dir={code_tree}", f"out={tmp_path}",
          *(f"{key}={value}" for key, value in SMALL.items())])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kind"] == "probes" and result["layers"] == [0, 6]
    assert json.loads((tmp_path / "probes.json").read_text())["values"] == result["values"]
    assert (tmp_path / "probes.csv").read_text().splitlines()[0].startswith("layer,name,lexical,syntactic,structural,semantic")
    assert (tmp_path / "probes.png").read_bytes()[:4] == b"\x89PNG"


# --- the semantic probe on a published clone pair set (clones=DIR) -------------------------------
def function_features_of(backbone, codes, **extract) -> np.ndarray:
    from codereuse.models.features import layer_features

    return layer_features(backbone, codes, **extract).pooled


def naive_map(vectors: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    """MAP written out: every function of ``pairs`` ranks all the others by cosine similarity."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    partners = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    precisions = []
    for query, relevant in partners.items():
        similarity = {i: float(unit[query] @ unit[i]) for i in partners if i != query}
        hits = sorted(relevant, key=lambda i: -similarity[i])
        ranks = [sum(value >= similarity[hit] for value in similarity.values()) for hit in hits]  # ties count against
        precisions.append(np.mean([(k + 1) / rank for k, rank in enumerate(ranks)]))
    return float(np.mean(precisions))


# six functions, three independently written pairs, each sharing only its parameter name beyond
# def/solve/return (a bag of words finds every partner first), and label-0 pairs and other splits
# that must not be used
CLONE_FUNCTIONS = {
    "10": "def solve(numbers):\n    total = 0\n    for number in numbers:\n        total += number\n    return total\n",
    "11": "def solve(numbers):\n    return sum(numbers)\n",
    "20": "def solve(text):\n    return text[::-1]\n",
    "21": "def solve(text):\n    chars = list(text)\n    chars.reverse()\n    return ''.join(chars)\n",
    "30": "def solve(items):\n    return max(items)\n",
    "31": "def solve(items):\n    return sorted(items).pop()\n",
    "40": "def solve(a, b):\n    return a * b\n",
    "41": "def solve(x):\n    return x\n",
}
TEST_CLONES = [CLONE_FUNCTIONS[idx] for idx in ("10", "11", "20", "21", "30", "31")]  # the test split's clone pairs


def write_clone_pairs(root, test: str = "10\t11\t1\n20\t21\t1\n30\t31\t1\n10\t40\t0\n21\t41\t0\n"):
    root.mkdir(exist_ok=True)
    rows = (json.dumps({"idx": int(idx), "func": code}) for idx, code in CLONE_FUNCTIONS.items())
    (root / "data.jsonl").write_text("".join(row + "\n" for row in rows))
    (root / "train.txt").write_text("40\t41\t1\n10\t20\t0\n11\t31\t1\n")
    (root / "valid.txt").write_text("11\t40\t1\n")
    (root / "test.txt").write_text(test)
    return root


def clone_config(root, test: str) -> ProbeConfig:
    return ProbeConfig(clones=str(write_clone_pairs(root, test)), **SMALL)


def test_mean_average_precision_by_hand():
    import torch

    # query 0: relevant at ranks 1 and 3 -> (1/1 + 2/3) / 2; query 1: relevant tied with one other -> 1/2
    scores = torch.tensor([[0.9, 0.8, 0.7], [0.5, 0.5, 0.1]], dtype=torch.float64)
    relevant = torch.tensor([[True, False, True], [False, True, False]])
    assert mean_average_precision(scores, relevant) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 2) / 2)
    square = torch.from_numpy(RNG.normal(size=(9, 9)))
    assert mean_average_precision(square, torch.eye(9, dtype=torch.bool)) == pytest.approx(mean_reciprocal_rank(square))
    # six functions on the unit circle (degrees): pairs (0, 10), (25, 60), (90, 200)
    angles = np.radians([0, 10, 25, 60, 90, 200])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    relevant = np.zeros((6, 6), dtype=bool)
    for a, b in ((0, 1), (2, 3), (4, 5)):
        relevant[a, b] = relevant[b, a] = True
    clones = CloneRetrieval(["f"] * 6, None, relevant, "hand", 3)
    # partner ranks among the other five: 1, 1, 3 (25 sees 10, 0, then 60), 2 (60 sees 90 first), 5, 1
    assert clone_map(vectors, None, clones) == pytest.approx((1 + 1 + 1 / 3 + 1 / 2 + 1 / 5 + 1) / 6)
    assert random_ranking_map(clones) == pytest.approx(np.mean(1 / np.arange(1, 6)))  # one relevant of five


def test_published_clone_pairs_are_the_semantic_retrieval_set(tmp_path):
    root = write_clone_pairs(tmp_path / "clones")
    clones = published_retrieval(ProbeConfig(clones=str(root), **SMALL))
    assert clones.all_pairs and clones.pairs == 3 and clones.functions == 6  # label-0 pairs and other splits left out
    assert clones.queries == TEST_CLONES
    assert clones.relevant.tolist() == [[i != j and i // 2 == j // 2 for j in range(6)] for i in range(6)]
    assert str(root) in clones.source and "test split" in clones.source
    assert bag_of_words_map(clones) == 1.0  # every partner is ranked first
    crossed = published_retrieval(clone_config(tmp_path / "crossed", "10\t21\t1\n20\t31\t1\n30\t11\t1\n"))  # no shared names
    # TF-IDF partner ranks among the other five (ties count against the query): 10 and 21 rank each
    # other 5th; 20 ranks 31 4th; 31 ranks 20, 30 ranks 11 and 11 ranks 30 3rd (each tied with one other)
    assert bag_of_words_map(crossed) == pytest.approx((1 / 5 + 1 / 5 + 1 / 4 + 3 * 1 / 3) / 6)
    two = published_retrieval(ProbeConfig(clones=str(root), **{**SMALL, "clone_pairs": 2}))
    assert two.pairs == 2 and two.functions == 4 and two.relevant.sum() == 4
    # a function with two partners has both relevant
    shared = published_retrieval(clone_config(tmp_path / "shared", "10\t11\t1\n10\t20\t1\n"))
    assert shared.pairs == 2 and shared.relevant.sum(axis=1).tolist() == [2, 1, 1]


def test_probe_cli_with_clones_uses_exactly_their_clone_pairs(tmp_path, code_tree, capsys):
    root = write_clone_pairs(tmp_path / "clones")
    small = {**SMALL, "clone_pairs": None}
    main(["probe", "model=tiny", "layers=[0,6]", f"source_dir={code_tree}", f"clones={root}", f"out={tmp_path / 'out'}",
          *(f"{key}={'null' if value is None else value}" for key, value in small.items())])
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert f"semantic: {root} (test split), 3 clone pairs; each of 6 functions ranks the other 5" in out
    assert "semantic_bow: the same retrieval with TF-IDF bags of sub-words, no model: MAP 1.000" in out
    assert result["info"]["counts"]["clone_pairs"] == 3 and result["info"]["counts"]["clone_functions"] == 6
    assert result["info"]["semantic"]["bag_of_words_map"] == 1.0 and result["values"]["semantic_bow"] == [1.0, 1.0]
    features = function_features_of(load_backbone(TINY), TEST_CLONES, layers=[0, 6], max_length=SMALL["max_length"],
                                    progress=False)
    expected = [naive_map(features[i], [(0, 1), (2, 3), (4, 5)]) for i in range(2)]
    assert result["values"]["semantic"] == pytest.approx(expected, abs=1e-6)
    assert result["info"]["baselines"]["semantic"] == pytest.approx(np.mean(1 / np.arange(1, 6)), abs=1e-6)
    assert (tmp_path / "out" / "probes.csv").read_text().splitlines()[0].startswith(
        "layer,name,lexical,syntactic,structural,semantic,semantic_bow")


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "missing", "clones='{dir}' is not valid (no such directory; expected a clone pair dataset"),
    (lambda tmp: tmp, "data directory {dir} has none of the expected files for task 'clone'"),
    (lambda tmp: write_clone_pairs(tmp / "clones", "10\t40\t0\n"), "its test split has 0 clone pairs"),
])
def test_probe_cli_rejects_a_bad_clones_dir_in_one_line(tmp_path, code_tree, capsys, make, message):
    directory = make(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["probe", "model=tiny", f"source_dir={code_tree}", f"clones={directory}", f"out={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message.format(dir=directory) in err


@pytest.mark.parametrize(("argv", "message"), [
    (["probe", "clones_split=dev"], "clones_split='dev' is not valid; allowed: ('train', 'valid', 'test')"),
    (["drift", "ckpt=/no/such.ckpt"], "ckpt='/no/such.ckpt' is not valid"),
    (["drift"], "ckpt=None is not valid"),
    (["probe", "modle=tiny"], "modle='tiny' is not valid; allowed:"),
    (["probe", "model=nope"], "model='nope' is not valid; allowed: ["),
    (["probe", "max_functions=0"], "max_functions=0 is not valid"),
    (["plot"], "command='plot' is not valid"),
])
def test_cli_rejects_bad_arguments_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err


def test_cli_process_exits_2_with_one_line_on_a_missing_checkpoint(tmp_path):
    result = subprocess.run([sys.executable, "-m", "codereuse.analysis", "drift", f"ckpt={tmp_path / 'missing.ckpt'}"],
                            cwd=ROOT, env=run_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ckpt=") and "no such checkpoint" in result.stderr


def fit_tiny(tmp_path, code_tree, *overrides: str, loggers=()):
    """A few clone-detection steps of the tiny model with every layer training, as train.py builds it,
    with the ``analysis`` callback when the overrides choose one."""
    cfg = compose_train(fast_overrides("task=clone", "freeze=none", "strategy.optim.lr=1e-2", *overrides), tmp_path,
                        source_dir=code_tree)
    data = load_task("clone", source_dir=str(code_tree), cache_dir=cfg.data.cache_dir, seed=cfg.data.seed, progress=False)
    module = build_module(cfg, data)
    record = RunRecord(OmegaConf.to_container(cfg.copy(), resolve=False), [])  # as train.py records it
    analysis = instantiate(cfg.analysis) if cfg.get("analysis") else None
    trainer = pl.Trainer(max_steps=3, limit_val_batches=0, logger=list(loggers) or False, callbacks=[record, *([analysis] if analysis else [])],
                         enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(module, datamodule=build_datamodule(cfg, data, module.tokenizer))
    return trainer, analysis


def test_analysis_layers_callback_writes_probes_and_drift_and_logs_them_to_wandb(tmp_path, code_tree):
    logger = WandbLogger(save_dir=str(tmp_path), project="codereuse-test", offline=True)
    try:
        _, callback = fit_tiny(tmp_path, code_tree, "analysis=layers", "analysis.progress=false",
                                 *(f"analysis.{key}={value}" for key, value in SMALL.items()), loggers=[logger])
    finally:
        import wandb

        wandb.finish()
    assert isinstance(callback, LayerAnalysisCallback) and callback.config.source_dir == str(code_tree)
    assert set(callback.tables) == {"probes", "drift"}
    for name in ("probes.json", "probes.csv", "probes.png", "drift.json", "drift.csv", "drift.png"):
        assert (tmp_path / name).is_file(), name
    drift = json.loads((tmp_path / "drift.json").read_text())
    assert drift["layers"] == list(range(7)) and len(drift["values"]["cka"]) == 7
    assert all(value < 1 - 1e-6 for value in drift["values"]["cka"][1:])  # lr 1e-2 on every layer moved them all
    assert drift["info"]["suggestion"]["freeze"] in {"none", "all"} | {f"top{n}" for n in range(1, 7)}
    media = {p.name.split("_")[0] for p in tmp_path.glob("wandb/offline-run-*/files/media/*/analysis/*")}
    assert media == {"probes", "drift"}


def test_drift_and_probe_cli_on_a_checkpoint(tmp_path, code_tree, capsys):
    trainer, _ = fit_tiny(tmp_path, code_tree)
    checkpoint = tmp_path / "tiny.ckpt"
    trainer.save_checkpoint(checkpoint)
    main(["drift", f"ckpt={checkpoint}", f"source_dir={code_tree}", "threshold=0.05", f"out={tmp_path / 'drift'}",
          *(f"{key}={value}" for key, value in SMALL.items())])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kind"] == "drift" and result["model"] == "tiny" and result["layers"] == list(range(7))
    assert result["values"]["drift"] == pytest.approx([1 - v for v in result["values"]["cka"]])
    assert result["info"]["suggestion"]["threshold"] == 0.05
    assert (tmp_path / "drift" / "drift.png").is_file()
    main(["probe", f"ckpt={checkpoint}", "layers=0,6", f"source_dir={code_tree}", f"out={tmp_path / 'probes'}",
          *(f"{key}={value}" for key, value in SMALL.items())])  # the fine-tuned backbone's probes
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == f"tiny fine-tuned ({checkpoint})" and result["layers"] == [0, 6]


# --- held-out functions are held out from the checkpoint's run ----------------------------------
def test_heldout_config_takes_the_runs_split_seed_and_source():
    config = ProbeConfig(**SMALL)
    run = {"seed": 42, "data": {"seed": 3, "source_dir": "/src"}}
    assert (heldout_config(config, set(), run, "x.ckpt").data_seed, heldout_config(config, set(), run, "x.ckpt").source_dir) \
        == (3, "/src")
    assert heldout_config(ProbeConfig(data_seed=3, **SMALL), {"data_seed"}, run, "x.ckpt").data_seed == 3
    with pytest.raises(ConfigError, match="data_seed=0 .*the checkpoint's run used data.seed=3"):
        heldout_config(config, {"data_seed"}, run, "x.ckpt")
    # runs from before data.seed split with the training seed
    assert heldout_config(config, set(), {"seed": 42, "data": {"source_dir": None}}, "x.ckpt").data_seed == 42
    with pytest.raises(ConfigError, match="records no train config.*pass data_seed="):
        heldout_config(config, set(), None, "x.ckpt")
    assert heldout_config(ProbeConfig(data_seed=5, **SMALL), {"data_seed"}, None, "x.ckpt").data_seed == 5


def test_train_config_falls_back_to_the_runs_hydra_dir(tmp_path):
    import torch

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / ".hydra").mkdir()
    torch.save({"state_dict": {}}, tmp_path / "checkpoints" / "last.ckpt")
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 7\ndata:\n  seed: 2\n  source_dir: /src\n")
    assert checkpoint_train_config(str(tmp_path / "checkpoints" / "last.ckpt"))["data"] == {"seed": 2, "source_dir": "/src"}


def test_drift_of_a_checkpoint_measures_functions_its_run_never_trained_on(tmp_path, code_tree, capsys, monkeypatch):
    import torch

    trainer, _ = fit_tiny(tmp_path, code_tree)
    checkpoint = tmp_path / "tiny.ckpt"
    trainer.save_checkpoint(checkpoint)
    saved = torch.load(checkpoint, weights_only=False)
    saved["codereuse"]["config"]["data"]["seed"] = 3  # as if the run had split with data.seed=3
    torch.save(saved, checkpoint)
    seen = []
    real_load_task = load_task

    def recording_load_task(name, **kwargs):  # records the split asked for; serves the cached seed-0 task
        seen.append((kwargs["seed"], kwargs["source_dir"]))
        return real_load_task(name, **{**kwargs, "seed": 0})

    monkeypatch.setattr("codereuse.analysis.probe_data.load_task", recording_load_task)
    main(["drift", f"ckpt={checkpoint}", f"out={tmp_path / 'drift'}",
          *(f"{key}={value}" for key, value in SMALL.items())])  # no source_dir, no data_seed: the run's
    assert seen == [(3, str(code_tree))]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["info"]["functions"] > 0
    # what that buys: valid + test of the run's split hold none of its training files, another
    # seed's do (every task of a seed shares one file map, so the cheap summarize task shows it)
    def files(seed: int, splits: tuple[str, ...]) -> set[str]:
        task = real_load_task("summarize", source_dir=str(code_tree), seed=seed, progress=False)
        return {r["file"] for s in splits for r in task.splits[s]}

    assert not files(3, ("train",)) & files(3, ("valid", "test"))
    assert files(3, ("train",)) & files(0, ("valid", "test"))
