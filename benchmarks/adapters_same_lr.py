"""The shuffled-graph control at the real-graph arm's adapter LR (1e-3, head 3e-3), 3 seeds, through
the same machinery as adapters.py; one JSON line.

    python benchmarks/adapters_same_lr.py
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapters import report, selected_arms  # noqa: E402
from compare import run_arms  # noqa: E402

if __name__ == "__main__":
    common = ["model=minilm", "task=classify", "trainer.max_epochs=3", "trainer.max_steps=-1", "logger=none", "callbacks=none",
              "+trainer.enable_progress_bar=false", "task.max_train_examples=1280", "task.max_length=64"]
    arms = selected_arms(["head", "transducer_output_shuffled"], 3, "head")[1:]
    print(json.dumps(report(run_arms(arms, common, {"head": 0.003, "transducer_output_shuffled": 0.001}, seeds=(0, 1, 2)))))
