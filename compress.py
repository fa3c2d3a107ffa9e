"""Compress a fine-tuned teacher into a student of a few megabytes (Compressor, plus a latency-aware mode).

    python compress.py                                   # default teacher (MiniLM on clone), 3 MB student
    python compress.py teacher=outputs/2026-12-01/10-00-00 budget_mb=3
    python compress.py search.mode=pareto                  # size / latency / GFLOPs Pareto set, 10x pick
"""
import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="compress")
def main(cfg: DictConfig) -> None:
    from codereuse.compression.pipeline import run
    from codereuse.cli.console import quiet_third_party
    from codereuse.errors import one_line_errors

    quiet_third_party()
    with one_line_errors():
        run(cfg)


if __name__ == "__main__":
    main()
