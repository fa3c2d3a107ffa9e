"""The task family registry: one entry per family, and every layer's per-family parts present."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from codereuse.data.datamodule import CodeDataModule, subsample
from codereuse.data.registry import TASK_FAMILIES
from codereuse.data.types import FAMILIES as DATA_FAMILIES, TaskData
from codereuse.errors import ConfigError
from codereuse.families import FAMILIES, LABEL, NAMES, RANKING, TEXT, family, label_families


def test_every_task_names_a_registered_family():
    assert set(TASK_FAMILIES.values()) == set(FAMILIES) and DATA_FAMILIES == NAMES
    assert all(spec.name == name for name, spec in FAMILIES.items())


def test_an_unknown_family_is_one_line_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"task\.family='regression' is not valid; allowed: \('classification', 'pair'"):
        family("regression")
    with pytest.raises(ConfigError, match="teacher.family"):
        family(None, key="teacher.family")


@pytest.mark.parametrize("name", NAMES)
def test_a_family_is_consistent(name):
    spec = family(name)
    assert set(spec.inputs) <= set(spec.required_fields) and set(spec.code_fields) <= set(spec.inputs)
    assert set(spec.short_inputs) <= set(spec.inputs)
    assert spec.predicts_labels == ("label" in spec.required_fields) == (spec.output is LABEL)
    assert spec.generates == (spec.target is not None) == (spec.output is TEXT)
    assert spec.target is None or spec.target in spec.required_fields
    assert not spec.paired or len(spec.inputs) == 2
    assert spec.output is not RANKING or len(spec.inputs) == 2  # queries and what they rank
    assert spec.monitor in spec.metric_keys("val")


def test_the_registry_is_what_the_tables_it_replaced_said():
    """The record and field tables of collate, card, types, probe, transducer and student, kept as they were."""
    assert {n: s.required_fields for n, s in FAMILIES.items()} == {
        "classification": ("code", "label"), "pair": ("code1", "code2", "label"),
        "seq2seq": ("source", "target"), "retrieval": ("query", "code")}
    assert {n: s.inputs for n, s in FAMILIES.items()} == {
        "classification": ("code",), "pair": ("code1", "code2"), "retrieval": ("query", "code"), "seq2seq": ("source",)}
    assert {n: s.described_fields for n, s in FAMILIES.items()} == {
        "classification": ("code",), "pair": ("code1", "code2"), "seq2seq": ("source", "target"), "retrieval": ("query", "code")}
    assert {n: s.code_fields for n, s in FAMILIES.items()} == {
        "classification": ("code",), "pair": ("code1", "code2"), "retrieval": ("code",), "seq2seq": ("source",)}
    assert label_families() == ("classification", "pair")
    assert [n for n, s in FAMILIES.items() if s.paired] == ["pair"]
    assert [n for n, s in FAMILIES.items() if s.in_batch_negatives] == ["retrieval"]


def test_families_import_without_torch():
    """The registry sits below codereuse.data: importing it (and the data contract) stays light."""
    code = "import sys, codereuse.families, codereuse.data.types; print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_every_family_has_a_head_and_floors(name):
    from codereuse.evaluation.floors import FLOORS
    from codereuse.methods.outputs import HANDLERS, handler

    spec = family(name)
    assert spec.output.kind in HANDLERS and handler(spec) is HANDLERS[spec.output.kind]
    floors = FLOORS[name].predictors([], [])  # lazy: nothing is fitted until a floor is scored
    assert floors and all(floor.endswith("_" + spec.output.floor_metric) for floor in floors)
    frozen = spec.output.frozen_reference
    assert frozen is None or frozen.endswith("_" + spec.output.floor_metric)


def test_label_metrics_are_the_ones_logged():
    from codereuse.metrics.classification import classification_metrics

    for classes in (2, 5):
        assert set(classification_metrics(classes, "val/").keys()) == set(family("pair").metric_keys("val"))


def _datamodule(records: int, limit: int | None, batch_size: int = 4) -> CodeDataModule:
    rows = [{"code": f"def f{i}(): pass", "label": i % 2} for i in range(records)]
    task = TaskData("defect", "classification", {"train": rows, "valid": rows, "test": rows})
    return CodeDataModule(task, None, "encoder", eval_batch_size=batch_size, max_eval_examples=limit, subset_seed=3)


def test_test_records_are_the_seeded_subset_in_row_order():
    datamodule = _datamodule(30, limit=10)
    records = datamodule.test_records()
    assert records == subsample(datamodule.task.splits["test"], 10, 3) and len(records) == 10
    assert _datamodule(30, limit=None).test_records() == _datamodule(30, limit=None).task.splits["test"]


def test_test_records_are_cut_to_the_batches_the_trainer_ran():
    datamodule = _datamodule(30, limit=10, batch_size=4)
    assert datamodule.test_records(SimpleNamespace(num_test_batches=[2])) == datamodule.test_records()[:8]
    assert datamodule.test_records(SimpleNamespace(num_test_batches=[float("inf")])) == datamodule.test_records()
    assert datamodule.test_records(SimpleNamespace(num_test_batches=[])) == datamodule.test_records()  # not tested yet
