"""File splits that hold on real projects: one seeded file map per harvest that balances what every
task uses, duplicates counted, undersized splits reported, and a split seed apart from training's."""
from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from codereuse.data import registry
from codereuse.data.__main__ import main as data_main
from codereuse.evaluation.card import format_card
from codereuse.data.registry import load_task
from codereuse.data.split import (FRACTIONS, assign_files, deduplicate, file_units, recording, size_warning,
                                  split_functions, undersized)
from codereuse.data.tasks import balance_keys
from codereuse.data.types import SPLITS, DataError
from conftest import compose_train, fast_overrides


def installed(package: str, *parts: str) -> Path:
    """The source directory of an installed package (no import: only its location is looked up)."""
    return Path(importlib.util.find_spec(package).submodule_search_locations[0], *parts)


def record(file: str, key: str, code: str) -> dict:
    """A harvest record (see codereuse.data.harvest) with the given near-duplicate key."""
    return {"file": file, "name": "f", "line": 1, "lines": 5, "code": code, "docstring": None, "key": key}


def shares(assignment: dict[str, str], units: dict[str, Counter], kind: str) -> dict[str, float]:
    totals = Counter()
    for file, split in assignment.items():
        totals[split] += units[file].get(kind, 0)
    return {split: totals[split] / sum(totals.values()) for split in SPLITS}


# --- the assignment itself -----------------------------------------------------------------------
def test_assign_files_is_seeded_and_fills_every_split():
    units = {f"f{i}.py": {"function": 1 + (i * 7) % 13} for i in range(40)}
    first = assign_files(units, random.Random(3))
    assert first == assign_files(units, random.Random(3))
    assert first != assign_files(units, random.Random(4))
    got = shares(first, units, "function")
    assert all(abs(got[s] - f) < 0.02 for s, f in zip(SPLITS, FRACTIONS)), got
    # three files, one of them huge: still one file per split, the huge one in train
    skewed = assign_files({"big.py": {"function": 1000}, "a.py": {"function": 1}, "b.py": {"function": 1}},
                          random.Random(0))
    assert sorted(skewed.values()) == ["test", "train", "valid"] and skewed["big.py"] == "train"


def test_every_kind_of_function_is_balanced_not_only_all_functions():
    # 60 files; the documented functions sit in 10 small files, as in real projects: balancing
    # file sizes alone leaves valid or test with none of them in most seeds
    units = {f"big{i}.py": {"function": 20} for i in range(50)}
    units.update({f"doc{i}.py": {"function": 2, "documented": 2} for i in range(10)})
    for seed in range(5):
        assignment = assign_files(units, random.Random(seed))
        for kind in ("function", "documented"):
            got = shares(assignment, units, kind)
            assert all(abs(got[s] - f) <= 0.1 for s, f in zip(SPLITS, FRACTIONS)), (seed, kind, got)


def test_file_units_weigh_packages_together():
    functions = [{"file": f"pkg{i % 3}/m{i}.py", "name": "f", "code": "def f():\n    return 1", "lines": 2,
                  "docstring": None} for i in range(30)]
    units, weights = file_units(functions)
    assert units["pkg0/m0.py"] == Counter({"function": 1, "package:pkg0": 1})  # 2 lines: not "short"
    assert sum(w for k, w in weights.items() if k.startswith("package:")) == pytest.approx(1.0)
    assert weights["function"] == 1.0
    test_method = {"file": "tests/test_m.py", "name": "T.test_x", "code": "def test_x(self):\n    assert 1",
                   "lines": 2, "docstring": None}
    assert balance_keys(test_method) == ["function", "asserts"]


# --- deduplication, counted ----------------------------------------------------------------------
def test_split_by_file_then_deduplicate_and_count_what_was_removed():
    functions = [record(f"m{i % 10}.py", f"k{i}", f"c{i}") for i in range(100)]
    functions += [record(f"m{i}.py", "shared", "same") for i in range(10)]  # one copy per file
    with recording() as report:
        splits = split_functions(functions, seed=0)
    files = {s: {f["file"] for f in rows} for s, rows in splits.items()}
    assert not (files["train"] & files["valid"]) and not (files["train"] & files["test"])
    keys = [f["key"] for rows in splits.values() for f in rows]
    assert len(keys) == len(set(keys)) and "shared" in {f["key"] for f in splits["train"]}
    assert sum(map(len, splits.values())) == 101
    copies = {s: sum(f["key"] == "shared" for f in functions if f["file"] in files[s]) for s in SPLITS}
    assert report.removed == Counter({"in_split_duplicate": copies["train"] - 1,
                                      "cross_split_exact_duplicate": copies["valid"] + copies["test"]})
    assert sum(report.files.values()) == 110 and len(report.files) == 10


def test_deduplicate_keeps_train_first_and_tells_exact_from_near_copies():
    splits = {"train": [{"k": 1, "code": "a"}], "valid": [{"k": 1, "code": "a2"}, {"k": 2, "code": "b"}],
              "test": [{"k": 2, "code": "b"}, {"k": 3, "code": "c"}, {"k": 3, "code": "c"}]}
    with recording() as report:
        kept = deduplicate(splits, key=lambda r: r["k"], report=report)
    assert kept == {"train": [{"k": 1, "code": "a"}], "valid": [{"k": 2, "code": "b"}], "test": [{"k": 3, "code": "c"}]}
    assert report.removed == {"cross_split_near_duplicate": 1, "cross_split_exact_duplicate": 1, "in_split_duplicate": 1}


def test_undersized_splits_are_named_and_worded():
    assert undersized({"train": 80, "valid": 10, "test": 10}) == []
    assert undersized({"train": 90, "valid": 4, "test": 6}) == ["valid"]
    assert undersized({"train": 30, "valid": 35, "test": 35}) == ["train"]
    assert size_warning("valid", {"train": 90, "valid": 4, "test": 6}) == \
        "valid holds 4 of 100 examples, under half its 10% target: scores on it are noisy"


# --- tasks built from a tree ---------------------------------------------------------------------
def test_duplicates_removed_are_counted_on_the_card(code_tree, tmp_path):
    task = load_task("summarize", source_dir=str(code_tree), cache_dir=str(tmp_path), progress=False)
    removed = {k: n for k, n in task.skipped.items() if k.endswith("duplicate")}
    assert removed and all(n > 0 for n in removed.values())
    card = format_card(task)
    assert all(f"{k} {n}" in card for k, n in removed.items())
    # the same counts come back from the cache
    again = load_task("summarize", source_dir=str(code_tree), cache_dir=str(tmp_path), progress=False)
    assert again.skipped == task.skipped and again.notes == task.notes


# --- real projects ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("projects-cache"))


def test_omegaconf_summarize_builds_balanced_splits(project_cache):
    # 593 functions, 59 with a usable docstring in 10 files: all of them used to land in train
    task = load_task("summarize", source_dir=str(installed("omegaconf")), cache_dir=project_cache, progress=False)
    counts = task.counts()
    assert not undersized(counts) and not task.notes, counts


def test_omegaconf_classify_names_its_two_packages(project_cache):
    with pytest.raises(DataError) as error:
        load_task("classify", source_dir=str(installed("omegaconf")), cache_dir=project_cache, progress=False)
    message = str(error.value)
    assert "\n" not in message and "found 1" in message
    assert "grammar (4 files" in message and "resolvers (2 files, train/valid/test 8/0/0)" in message


def test_hydra_builds_more_classes_and_balanced_summaries(project_cache):
    source = str(installed("hydra"))
    classify = load_task("classify", source_dir=source, cache_dir=project_cache, progress=False)
    assert len(classify.label_names) >= 5  # 4 with the old per-package split
    for split in SPLITS:
        assert {r["label"] for r in classify.splits[split]} == set(range(len(classify.label_names)))
    summarize = load_task("summarize", source_dir=source, cache_dir=project_cache, progress=False)
    assert not summarize.notes and not undersized(summarize.counts()), summarize.counts()  # was 45/7/16


def test_flat_tree_fails_in_one_line_naming_the_cause(project_cache):
    source = str(installed("transformers", "models", "bert"))
    with pytest.raises(DataError, match=r"all 84 functions are in 3 files directly in data.source_dir"):
        load_task("classify", source_dir=source, cache_dir=project_cache, progress=False)
    with pytest.raises(DataError) as error:
        load_task("summarize", source_dir=source, cache_dir=project_cache, progress=False)
    message = str(error.value)
    assert "\n" not in message and "train holds under half its 80% target" in message
    assert "21 of the 84 functions" in message and "in 3 file(s) holding 14, 6, 1" in message
    defect = load_task("defect", source_dir=source, cache_dir=project_cache, progress=False)
    assert defect.notes and all(note.startswith("valid holds") for note in defect.notes)
    assert f"warning   {defect.notes[0]}" in format_card(defect)


# --- the split seed --------------------------------------------------------------------------------
class Loaded(Exception):
    """Raised by the wrapped ``load_task`` to stop ``train.run`` once the data is known."""


@pytest.fixture
def loads(monkeypatch):
    """Every ``load_task`` call train.py makes: (seed argument, TaskData); the run stops there."""
    calls = []

    def recording_load_task(*args, **kwargs):
        calls.append((kwargs["seed"], load_task(*args, **kwargs)))
        raise Loaded

    monkeypatch.setattr("codereuse.training.run.load_task", recording_load_task)
    return calls


def _train_data(overrides: list[str], out: Path, source: Path) -> None:
    from codereuse.training.run import run

    with pytest.raises(Loaded):
        run(compose_train(fast_overrides(*overrides), out, source))


def test_training_seed_leaves_the_split_alone(code_tree, tmp_path, loads):
    for seed in (1, 2):
        _train_data(["task=summarize", f"seed={seed}", f"data.cache_dir={tmp_path}"], tmp_path / f"s{seed}", code_tree)
    _train_data(["task=summarize", "seed=1", "data.seed=1", f"data.cache_dir={tmp_path}"], tmp_path / "d1", code_tree)
    (seed_a, first), (seed_b, second), (seed_c, other) = loads
    assert seed_a == seed_b == 0 and seed_c == 1
    assert first.splits == second.splits
    files = {name: {s: {r["file"] for r in task.splits[s]} for s in SPLITS} for name, task in
             (("first", first), ("other", other))}
    assert files["first"]["test"] != files["other"]["test"]  # data.seed does move files


def test_data_build_fills_the_cache_entry_train_reads(code_tree, tmp_path, loads, monkeypatch, capsys):
    cache = tmp_path / "cache"
    argv = ["build", "task=summarize", f"data.source_dir={code_tree}", f"data.cache_dir={cache}", "data.seed=5"]
    assert data_main(argv) == 0
    built = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tasks"]["summarize"]

    def no_harvest(*args, **kwargs):
        raise AssertionError("train.py rebuilt the task instead of reading the cache")

    monkeypatch.setattr(registry, "_harvested", no_harvest)
    _train_data(["task=summarize", "seed=42", "data.seed=5", f"data.cache_dir={cache}"], tmp_path / "run", code_tree)
    (seed, task), = loads
    assert seed == 5 and task.counts() == built
    assert data_main(["build", "task=summarize", f"data.source_dir={code_tree}", f"data.cache_dir={cache}",
                      "seed=5"]) == 0  # the old spelling is an alias


def test_evaluated_subsets_follow_the_split_seed_not_the_training_seed(monkeypatch):
    """Every training seed of a comparison is scored on the same test records."""
    from types import SimpleNamespace

    import codereuse.data.datamodule as datamodule

    records = [{"code": f"def f{i}(): return {i}", "label": i % 2} for i in range(40)]
    task = SimpleNamespace(splits={"train": records, "valid": records, "test": records}, family="classification")
    monkeypatch.setattr(datamodule, "encode_records", lambda rows, *a, **k: [{"code": r["code"]} for r in rows])

    def evaluated(seed: int, subset_seed: int) -> list[str]:
        module = datamodule.CodeDataModule(task, None, "encoder", seed=seed, subset_seed=subset_seed,
                                           max_train_examples=8, max_eval_examples=8)
        module.setup()
        return [row["code"] for row in module.encoded["test"]]

    assert evaluated(seed=1, subset_seed=0) == evaluated(seed=2, subset_seed=0)
    assert evaluated(seed=1, subset_seed=0) != evaluated(seed=1, subset_seed=3)
