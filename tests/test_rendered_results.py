"""The results pages (docs/results/*.md) are rendered from benchmarks/results/*.json, not retyped:
every page is current, and the renderer turns a result file into the expected cells and reports a
hand-edited table as stale."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("render_results", ROOT / "benchmarks" / "render_results.py")
render_results = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(render_results)

PAGES = sorted((ROOT / "docs" / "results").glob("*.md"))


def test_there_are_results_pages_with_rendered_tables():
    assert PAGES
    assert all(render_results.REGION.search(page.read_text()) for page in PAGES if page.name != "framework.md")


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_results_page_is_up_to_date(page):
    text = page.read_text()
    assert render_results.render_page(text, render_results.RESULTS, page.parent, page.name) == text, (
        f"{page.relative_to(ROOT)} is stale: run python benchmarks/render_results.py")


def test_every_results_page_table_sits_between_markers():
    """A markdown table on a results page is a rendered one: no table rows outside a marked region."""
    for page in PAGES:
        outside = render_results.REGION.sub("", page.read_text())
        rows = [line for line in outside.splitlines() if line.startswith("|")]
        assert rows == [], f"{page.name}: hand-written table rows {rows[:2]}"


ARMS = {"record": "tiny", "model": "tiny", "epochs": 1, "train": 64, "eval": None, "max_length": 32, "seeds": 2,
        "head_lr_from": None,
        "tasks": {"classify": {"floor": 0.0521, "floor_name": "majority_accuracy", "methods": {
            "head": {"adapter_params": 0, "adapter_pct": 0.0, "head_params": 10, "head_pct": 0.5, "f1": 0.4727,
                     "f1_se": 0.0085, "acc": 0.5242, "acc_se": 0.0064, "seconds": 32.0491, "lr": 0.003},
            "lora": {"adapter_params": 33, "adapter_pct": 1.4703, "head_params": 10, "head_pct": 0.5, "f1": 0.5055,
                     "f1_se": 0.0154, "acc": 0.5543, "acc_se": 0.0138, "seconds": 267.6264, "lr": 0.001}}}}}
PAGE = """# A page

Prose stays as written.

<!-- table: arms task=classify
adapters-tiny.json
-->
<!-- end table -->

More prose.
"""


@pytest.fixture
def rendered(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    results.mkdir()
    docs.mkdir()
    (results / "adapters-tiny.json").write_text(json.dumps(ARMS))
    page = docs / "page.md"
    page.write_text(render_results.render_page(PAGE, results, docs))
    return page, results


def test_a_table_renders_from_its_json_with_formatted_cells(rendered):
    page, _ = rendered
    text = page.read_text()
    assert text.startswith("# A page\n\nProse stays as written.\n") and text.endswith("<!-- end table -->\n\nMore prose.\n")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    # sorted by the first score, means ± standard errors rounded half up, percentages, LRs as people write them
    assert rows[0] == "| `lora` | 1.47% | 1e-3 | 0.506 ± 0.015 | 0.554 ± 0.014 | 268 s |"
    assert rows[1] == "| `head` | 0.00% | 3e-3 | 0.473 ± 0.009 | 0.524 ± 0.006 | 32.0 s |"
    assert "Lexical floor: `majority_accuracy` 0.052." in text
    # the source line links the file and names the command its recorded budget implies
    assert "Source: [`adapters-tiny.json`](../results/adapters-tiny.json), written by " in text
    assert ("`python benchmarks/adapters.py --seeds 2 --epochs 1 --train 64 --max-length 32 --tasks classify "
            "--record tiny --arms head lora`") in text


def test_a_file_that_records_its_command_is_credited_with_it(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    run = {"command": "python train.py task=search", "test/mrr": 0.5777, "test/floor": 0.4334, "test/floor_se": 0.0177,
           "test/floor_name": "tfidf_mrr", "test/frozen": 0.521, "test/frozen_se": 0.0175,
           "test/frozen_name": "zero_shot_mrr", "fit_seconds": 171.0973, "budget": "1 epoch"}
    (results / "train-x.json").write_text(json.dumps(run))
    text = render_results.render_page("<!-- table: runs train-x.json -->\n<!-- end table -->\n", results, tmp_path)
    assert "| `python train.py task=search` | MRR | **0.578** | 0.433 ± 0.018 (`tfidf_mrr`) |" in text
    assert "written by `python train.py task=search`." in text


def test_a_hand_edited_table_is_reported_stale(rendered):
    page, results = rendered
    assert render_results.stale_pages([page], results) == []
    page.write_text(page.read_text().replace("0.506 ± 0.015", "0.600 ± 0.015"))
    assert render_results.stale_pages([page], results) == [page]
    # the command line says so too, and rendering repairs it
    check = [sys.executable, str(ROOT / "benchmarks" / "render_results.py"), "--results", str(results)]
    stale = subprocess.run([*check, "--check", str(page)], capture_output=True, text=True)
    assert stale.returncode == 1 and f"stale: {page}" in stale.stdout
    assert subprocess.run([*check, str(page)], capture_output=True, text=True).returncode == 0
    assert "0.506 ± 0.015" in page.read_text()
    assert subprocess.run([*check, "--check", str(page)], capture_output=True, text=True).returncode == 0


def test_pooled_rows_combine_the_seeds_of_several_files():
    """Seeds 0 (one run) and 1, 2 (a mean and its standard error) pool to the mean of all three."""
    mean, se = render_results._pooled([(0.4795, None, 1), (0.5452, 0.0164, 2)])
    values = [0.4795, 0.5452 - 0.0164, 0.5452 + 0.0164]
    expected = sum(values) / 3
    spread = (sum((v - expected) ** 2 for v in values) / 2 / 3) ** 0.5
    assert mean == pytest.approx(expected) and se == pytest.approx(spread)


def test_a_region_without_a_known_command_or_file_fails_clearly(tmp_path):
    (tmp_path / "arms.json").write_text(json.dumps(ARMS))
    with pytest.raises(render_results.RenderError, match="no command is known for arms.json"):
        render_results.render_page(PAGE.replace("adapters-tiny.json", "arms.json"), tmp_path, tmp_path, "page.md")
    with pytest.raises(render_results.RenderError, match="no result file"):
        render_results.render_page(PAGE.replace("adapters-tiny.json", "missing.json"), tmp_path, tmp_path, "page.md")
    with pytest.raises(render_results.RenderError, match="unknown table kind 'bars'"):
        render_results.render_page(PAGE.replace("table: arms", "table: bars"), tmp_path, tmp_path, "page.md")


def test_arms_notes_carry_the_frozen_reference_the_verdict_and_the_goal(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    methods = {name: {**ARMS["tasks"]["classify"]["methods"]["lora"], "mrr": score, "mrr_se": 0.01}
               for name, score in (("transducer", 0.58), ("lora", 0.6))}
    block = {"metric": "mrr", "floor": 0.4334, "floor_name": "tfidf_mrr", "floor_se": 0.0177, "frozen": 0.521,
             "frozen_name": "zero_shot_mrr", "frozen_se": 0.0175, "best_arm": "lora", "yardstick": True,
             "methods": methods, "goal": {"max_adapter_pct": 1.0, "max_gap_to_full": 0.02, "checks": {"transducer": {
                 "adapter_under_max": False, "at_least_lora": False, "near_full": None, "above_head": None,
                 "above_shuffled": None, "met": False}}}}
    (results / "adapters-y.json").write_text(json.dumps({**ARMS, "tasks": {"search": block}}))
    text = render_results.render_page("<!-- table: arms adapters-y.json -->\n<!-- end table -->\n", results, tmp_path)
    assert ("Frozen model: `zero_shot_mrr` 0.521 ± 0.018; lexical floor 0.433 ± 0.018. "
            "A yardstick at this budget: yes (best arm `lora`).") in text
    assert ("Goal for `transducer`: not met (adapter under 1% no; at least LoRA no; within 0.02 of full —; "
            "above the head by 2 s.e. —; above its shuffled control by 2 s.e. —).") in text


def test_a_goal_whose_checks_all_pass_is_not_met_off_a_yardstick(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    checks = dict.fromkeys((key for key, _ in render_results.GOAL_PARTS), True)
    block = {"metric": "acc", "floor": 0.82, "floor_name": "bow_logreg_accuracy", "floor_se": 0.013, "frozen": 0.83,
             "frozen_name": "linear_probe_accuracy", "frozen_se": 0.013, "best_arm": "transducer", "yardstick": False,
             "methods": {"transducer": {**ARMS["tasks"]["classify"]["methods"]["lora"], "acc": 0.79, "acc_se": 0.01}},
             "goal": {"max_adapter_pct": 1.0, "max_gap_to_full": 0.02, "checks": {"transducer": {**checks, "met": False}}}}
    (results / "adapters-y.json").write_text(json.dumps({**ARMS, "tasks": {"clone_leetcode": block}}))
    text = render_results.render_page("<!-- table: arms adapters-y.json -->\n<!-- end table -->\n", results, tmp_path)
    assert "A yardstick at this budget: no (best arm `transducer`)." in text
    assert "Goal for `transducer`: not met, not a yardstick (adapter under 1% yes; at least LoRA yes;" in text


def test_a_generation_task_says_it_has_no_frozen_reference_and_credits_its_overrides(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    checks = {**dict.fromkeys((key for key, _ in render_results.GOAL_PARTS), False), "met": False}
    block = {"metric": "bleu", "floor": 0.116, "floor_name": "nearest_target_bleu", "floor_se": 0.006, "frozen": None,
             "frozen_name": None, "frozen_se": None, "best_arm": "head", "yardstick": False,
             "methods": {"head": {"adapter_pct": 0.0, "bleu": 0.11, "bleu_se": 0.001, "seconds": 500.0, "lr": 0.001}},
             "goal": {"max_adapter_pct": 1.0, "max_gap_to_full": 0.02, "checks": {"transducer": checks}}}
    line = {**ARMS, "train": None, "overrides": ["task.max_target_length=32"], "tasks": {"summarize": block}}
    (results / "adapters-g.json").write_text(json.dumps(line))
    text = render_results.render_page("<!-- table: arms adapters-g.json -->\n<!-- end table -->\n", results, tmp_path)
    assert "| `head` | 0.00% | 1e-3 | 0.110 ± 0.001 | 500 s |" in text
    assert "Frozen model: none (a generation task has no frozen reference). A yardstick at this budget: no." in text
    assert "Goal for `transducer`: not met, not a yardstick (adapter under 1% no;" in text
    assert ("`python benchmarks/adapters.py --seeds 2 --epochs 1 --max-length 32 --tasks summarize --record tiny "
            "--arms head -- task.max_target_length=32`") in text
