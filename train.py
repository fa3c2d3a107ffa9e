"""Fine-tune, freeze (Telly) or adapt (LoRA / prefix / prompt) a pre-trained code model.

    python train.py                                  # MiniLM, code search, top-2 layers trainable
    python train.py model=codebert freeze=top2
    python train.py -m model=minilm,tiny task=defect,clone freeze=none,top2
"""
import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from codereuse.cli.console import quiet_third_party
    from codereuse.errors import one_line_errors
    from codereuse.training.run import run
    from codereuse.sweep import objective

    quiet_third_party()
    with one_line_errors():
        return objective(run(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
