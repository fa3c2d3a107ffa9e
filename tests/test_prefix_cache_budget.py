"""freeze.cache_memory_gb / cache_disk_dtype / cache_dir: states beyond the memory budget go to disk and
replay the same outputs; the plan is printed before the first epoch; states that fit nowhere run uncached."""
from __future__ import annotations

import gc
from collections import namedtuple
from types import SimpleNamespace

import pytest
import torch

from codereuse.data.datamodule import CodeDataModule
from codereuse.data.registry import load_task
from codereuse.errors import ConfigError
from codereuse.methods.finetune import FineTuneModule
from codereuse.methods.prefix_cache import PrefixCache, plan_for_fit
from codereuse.methods.state_store import GB
from codereuse.training.preflight import check_run_config
from codereuse.training.run import run
from conftest import compose_train, fast_overrides

TINY = {"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}
TOP2 = {"mode": "top", "layers": 2}
FIELD = "code1"  # the clone task's first input


@pytest.fixture(scope="module")
def clone(code_tree):
    data = load_task("clone", source_dir=str(code_tree))
    return data, {"name": data.name, "family": data.family, "num_labels": data.num_labels}


def modules(clone, **cache) -> tuple[FineTuneModule, FineTuneModule]:
    """An uncached module and a cached one (``cache`` = the freeze.cache_* keys) with the same weights, in eval mode."""
    data, spec = clone
    plain = FineTuneModule(TINY, spec, TOP2)
    cached = FineTuneModule(TINY, spec, {**TOP2, "cache": True, **{f"cache_{k}": v for k, v in cache.items()}})
    cached.load_state_dict(plain.state_dict())
    return plain.eval(), cached.eval()


def batches(clone, module) -> list[dict]:
    datamodule = CodeDataModule(clone[0], module.tokenizer, "encoder", max_length=64, batch_size=8, max_train_examples=24)
    datamodule.setup()
    return list(datamodule.train_dataloader())


@torch.no_grad()
def replayed(module, batches: list[dict]) -> list[torch.Tensor]:
    """The field's token states of every batch, the second time round (the first pass fills the cache)."""
    for batch in batches:
        module.model.field_states(batch, FIELD)
    return [module.model.field_states(batch, FIELD) for batch in batches]


def close(first: list[torch.Tensor], second: list[torch.Tensor], atol: float) -> bool:
    return all(torch.allclose(a, b, atol=atol) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(("dtype", "atol"), [("float16", 1e-2), ("bfloat16", 5e-2), ("float32", 0.0)])
def test_a_zero_budget_puts_every_state_on_disk_and_replays_it(clone, tmp_path, dtype, atol):
    _, in_memory = modules(clone)
    _, on_disk = modules(clone, memory_gb=0, disk_dtype=dtype, dir=str(tmp_path))
    on_disk.load_state_dict(in_memory.state_dict())
    data = batches(clone, in_memory)
    expected, states = replayed(in_memory, data), replayed(on_disk, data)
    assert close(states, expected, atol) and (atol or all(torch.equal(a, b) for a, b in zip(states, expected)))
    store = on_disk.prefix_cache.states
    assert not store.memory and len(store.on_disk) == len(store) == 24
    assert store.path(next(iter(store.on_disk))).parent.parent == tmp_path  # a temporary folder under cache_dir


def test_a_budget_for_half_keeps_some_states_in_memory_and_the_rest_on_disk(clone):
    plain, measure = modules(clone)
    data = batches(clone, plain)
    replayed(measure, data)
    _, cached = modules(clone, memory_gb=measure.prefix_cache.states.memory_bytes / 2 / GB)
    cached.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for _ in range(2):  # fill, then replay
            for batch in data:
                assert torch.allclose(cached.model(batch).loss, plain.model(batch).loss, atol=1e-3)
    store = cached.prefix_cache.states
    assert store.memory and store.on_disk and len(store) >= 24


def test_the_plan_line_counts_sequences_tokens_and_the_budget(clone, tmp_path, capsys):
    _, cached = modules(clone, memory_gb=0.004096)  # 250 sequences of 128 tokens x 32 values x 4 bytes
    assert cached.prefix_cache.plan(1000, 128, str(tmp_path))
    assert capsys.readouterr().out == (f"freeze.cache: ~0.0164 GB of states for 1000 sequences (250 in memory up to "
                                       f"freeze.cache_memory_gb=0.004096, the rest on disk at float16 under {tmp_path})\n")
    assert cached.prefix_cache.plan(100, 128, str(tmp_path))
    assert "for 100 sequences (all in memory, within freeze.cache_memory_gb=0.004096)" in capsys.readouterr().out
    # from a data module: every input field of every row of every split, and the longest of them
    encoded = {"train": [{"code1_ids": [0] * 10, "code2_ids": [0] * 7}] * 3,
               "valid": [{"code1_ids": [0] * 4, "code2_ids": [0] * 5}] * 2}
    trainer = SimpleNamespace(datamodule=SimpleNamespace(encoded=encoded), default_root_dir=str(tmp_path))
    assert plan_for_fit(cached.prefix_cache, trainer, ("code1", "code2")) is cached.prefix_cache
    assert "~1.28e-05 GB of states for 10 sequences (all in memory" in capsys.readouterr().out  # 10 x 10 x 32 x 4 bytes


def test_states_that_fit_nowhere_run_uncached_with_the_same_metrics(tmp_path, code_tree, monkeypatch, capsys):
    overrides = ["task=clone", "freeze=top2", "trainer.max_epochs=2", "trainer.max_steps=-1", "trainer.limit_train_batches=3"]
    plain = run(compose_train(fast_overrides(*overrides), tmp_path / "plain", code_tree))
    capsys.readouterr()
    monkeypatch.setattr("shutil.disk_usage", lambda path: namedtuple("usage", "total used free")(1, 1, 0))
    monkeypatch.setattr(PrefixCache, "hidden_states", lambda *args: pytest.fail("the run was cached"))
    cached = run(compose_train(fast_overrides(*overrides, "freeze.cache=true", "freeze.cache_memory_gb=0"),
                               tmp_path / "cached", code_tree))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("freeze.cache:")]
    assert len(lines) == 1 and lines[0].endswith("; running uncached") and "nor the 0 GB free under" in lines[0]
    for key in ("test/acc", "test/f1", "test/loss", "val/loss"):
        assert cached[key] == plain[key], key


def test_a_truncated_or_garbled_disk_file_is_computed_again(clone):
    _, in_memory = modules(clone)
    _, on_disk = modules(clone, memory_gb=0, disk_dtype="float32")
    on_disk.load_state_dict(in_memory.state_dict())
    data = batches(clone, in_memory)
    replayed(on_disk, data)
    store = on_disk.prefix_cache.states
    truncated, garbled, flipped = (store.path(key) for key in sorted(store.on_disk)[:3])
    truncated.write_bytes(truncated.read_bytes()[:-7])
    garbled.write_bytes(bytes(len(garbled.read_bytes())))
    payload = bytearray(flipped.read_bytes())
    payload[-1] ^= 0xFF  # same size, valid header: only the checksum tells
    flipped.write_bytes(bytes(payload))
    assert all(torch.equal(a, b) for a, b in zip(replayed(on_disk, data), replayed(in_memory, data)))
    assert len(store.on_disk) == 24 and all(store.get(key) is not None for key in store.on_disk)


def test_the_disk_folder_goes_with_the_cache(clone):
    _, cached = modules(clone, memory_gb=0)
    replayed(cached, batches(clone, cached))
    folder = cached.prefix_cache.states.path(("train", FIELD, 0)).parent
    assert folder.is_dir()
    del cached
    gc.collect()
    assert not folder.exists()


@pytest.mark.parametrize(("key", "value"), [("cache_memory_gb", -1), ("cache_memory_gb", "lots"), ("cache_disk_dtype", "int8")])
def test_bad_budget_values_are_one_config_error_line(clone, tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"freeze.{key}=") as error:
        FineTuneModule(TINY, clone[1], {**TOP2, "cache": True, key: value})
    assert "\n" not in str(error.value)
    cfg = compose_train(fast_overrides(f"freeze.{key}={value}"), tmp_path)
    with pytest.raises(ConfigError, match=f"freeze.{key}="):
        check_run_config(cfg)  # before the data build
