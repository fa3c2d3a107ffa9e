"""Pool candidates found on disk: students of other tasks only, read as they were trained; one row per
set of equal weights."""
from __future__ import annotations

import json

import yaml

from codereuse.compression.student import POOLING
from codereuse.selection.candidates import Candidate, discover_students, merge_equal_weights


def student_run(root, name: str, task: str | None, positions: int = 130) -> None:
    run = root / name
    (run / "student").mkdir(parents=True)
    (run / "student" / "config.json").write_text(json.dumps({"max_position_embeddings": positions}))
    if task is not None:
        (run / ".hydra").mkdir()
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task": {"name": task}, "budget_mb": 3}))


def test_students_of_the_target_task_are_not_candidates(tmp_path):
    student_run(tmp_path, "a", "classify")
    student_run(tmp_path, "b", "clone", positions=258)
    student_run(tmp_path, "c", None)
    found = {c.name: c for c in discover_students([str(tmp_path)], "classify")}
    assert sorted(found) == ["student_b", "student_c"]
    assert found["student_b"].spec["pooling"] == POOLING == "cls"  # as compress.py trains them
    assert found["student_b"].spec["max_length"] == 258
    assert "of clone" in found["student_b"].note and "unrecorded task" in found["student_c"].note


def test_candidates_with_equal_weights_become_one_row_listing_every_name():
    pool = [Candidate(name, "pretrained", {"name": name}) for name in ("minilm", "mpnet", "minilm_ft_transducer", "minilm_ft_head")]
    weights = {"minilm": "w1", "mpnet": "w2", "minilm_ft_transducer": "w1", "minilm_ft_head": "w1"}
    kept, aliases = merge_equal_weights(pool, weights)
    assert [c.name for c in kept] == ["minilm", "mpnet"]
    assert aliases == {"minilm": ["minilm_ft_transducer", "minilm_ft_head"]}
