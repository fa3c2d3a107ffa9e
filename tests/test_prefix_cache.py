"""freeze.cache=true: replaying the frozen prefix gives exactly the uncached outputs and metrics."""
from __future__ import annotations

import pytest
import torch

from codereuse.training.run import run
from codereuse.data.datamodule import CodeDataModule
from codereuse.data.registry import load_task
from codereuse.errors import ConfigError
from codereuse.methods.finetune import FineTuneModule
from conftest import compose_train, fast_overrides

TINY = {"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}


@pytest.mark.parametrize("freeze", [{"mode": "top", "layers": 2}, {"mode": "bottom", "layers": 3},
                                    {"mode": "embeddings"}, {"mode": "all"}])
@pytest.mark.parametrize("task", ["clone", "search", "summarize"])
def test_cached_outputs_equal_uncached(task, freeze, code_tree):
    data = load_task(task, source_dir=str(code_tree))
    spec = {"name": data.name, "family": data.family, "num_labels": data.num_labels}
    plain = FineTuneModule(TINY, spec, freeze)
    cached = FineTuneModule(TINY, spec, {**freeze, "cache": True})
    cached.load_state_dict(plain.state_dict())
    datamodule = CodeDataModule(data, plain.tokenizer, "encoder", max_length=64, batch_size=8, max_train_examples=24)
    datamodule.setup()
    plain.eval(), cached.eval()
    with torch.no_grad():
        for _ in range(2):  # the second pass replays the cache
            for batch in datamodule.train_dataloader():
                assert torch.allclose(plain.model(batch).loss, cached.model(batch).loss, atol=1e-6)
    assert len(cached.prefix_cache.states) >= 24


def test_cached_run_gives_the_same_metrics(tmp_path, code_tree):
    overrides = ["task=clone", "freeze=top2", "trainer.max_epochs=2", "trainer.max_steps=-1", "trainer.limit_train_batches=3"]
    plain = run(compose_train(fast_overrides(*overrides), tmp_path / "plain", code_tree))
    cached = run(compose_train(fast_overrides(*overrides, "freeze.cache=true"), tmp_path / "cached", code_tree))
    for key in ("test/acc", "test/f1", "test/loss", "val/loss"):
        assert cached[key] == pytest.approx(plain[key], abs=1e-5), key


def test_cache_needs_something_frozen_and_an_encoder():
    task = {"name": "defect", "family": "classification", "num_labels": 2}
    with pytest.raises(ConfigError, match="freezes nothing"):
        FineTuneModule(TINY, task, {"mode": "none", "cache": True})
    t5 = {"name": "tiny_t5", "architecture": "encoder-decoder", "source": "tiny", "tiny": {"arch": "t5"}}
    with pytest.raises(ConfigError, match="encoder-only"):
        FineTuneModule(t5, task, {"mode": "top", "layers": 1, "cache": True})
