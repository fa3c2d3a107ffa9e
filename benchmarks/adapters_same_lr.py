"""The shuffled-graph control at the real-graph arm's tuned adapter LR (both heads at the head arm's),
3 seeds, at the budget of the ``--head-lr-from head`` record, through adapters.py's machinery; one
JSON line. Each arm choosing its own LR can turn a control into an LR comparison; this removes that.

    python benchmarks/adapters_same_lr.py
"""
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapters import report, selected_arms  # noqa: E402
from compare import TUNED_DIR, load_tuned, run_arms  # noqa: E402

RECORD, TASK, REAL, CONTROL = "adapters-medium-fulleval-headlr", "classify", "transducer_output", "transducer_output_shuffled"

if __name__ == "__main__":
    common = yaml.safe_load((TUNED_DIR / f"{RECORD}.yaml").read_text())[TASK]["common"]  # the tuned budget
    tuned = load_tuned(RECORD, TASK)
    arms = selected_arms(["head", CONTROL], 3, "head")[1:]
    lrs = {"head": tuned["head"], CONTROL: tuned[REAL]}
    print(json.dumps(report(TASK, run_arms(arms, common, lrs, seeds=(0, 1, 2)))))
