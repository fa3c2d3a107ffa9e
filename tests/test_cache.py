"""The on-disk cache: atomic entries, corruption detected and rebuilt, harvests shared by tasks."""
from __future__ import annotations

import logging

import pytest

from codereuse.data import harvest, registry
from codereuse.data.cache import Cache, default_cache_dir
from codereuse.data.tasks import summarize


def test_round_trip_leaves_no_temporary_files(tmp_path):
    cache = Cache(tmp_path)
    assert cache.load("task", "k") is None and not cache.contains("task", "k")
    cache.save("task", "k", {"splits": [1, 2, 3], "name": "x"})
    assert cache.load("task", "k") == {"splits": [1, 2, 3], "name": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task-k.json.gz", "task-k.meta.json"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_payload", "garble_meta"])
def test_corrupt_entry_is_reported_once_and_removed(tmp_path, caplog, damage):
    cache = Cache(tmp_path)
    cache.save("harvest", "k", {"functions": list(range(1000))})
    payload, meta = tmp_path / "harvest-k.json.gz", tmp_path / "harvest-k.meta.json"
    data = payload.read_bytes()
    if damage == "truncate":
        payload.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        payload.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "delete_payload":
        payload.unlink()
    else:
        meta.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="codereuse.data.cache"):
        assert cache.load("harvest", "k") is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "corrupt" in warnings[0] and "rebuilding" in warnings[0]
    assert not payload.exists() and not meta.exists()


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEREUSE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CODEREUSE_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "codereuse")


@pytest.fixture
def tree(code_tree, tmp_path):
    """A private copy of two packages of the session tree, so tests may edit it."""
    root = tmp_path / "tree"
    for package in ("json", "email"):
        (root / package).mkdir(parents=True)
        for path in (code_tree / package).rglob("*.py"):
            target = root / package / path.relative_to(code_tree / package)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return root


def test_tasks_share_one_harvest_and_reload_from_cache(tree, tmp_path, monkeypatch):
    calls = []
    real_harvest = harvest.harvest
    monkeypatch.setattr(harvest, "harvest", lambda *a, **k: calls.append(1) or real_harvest(*a, **k))
    args = {"source_dir": str(tree), "cache_dir": str(tmp_path / "cache"), "progress": False}
    first = registry.load_task("summarize", **args)
    registry.load_task("defect", **args)
    assert len(calls) == 1  # the function table was harvested once for both tasks

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt although cached")
    monkeypatch.setattr(summarize, "build", fail)
    again = registry.load_task("summarize", **args)
    assert again == first


def test_changed_source_or_seed_rebuilds(tree, tmp_path):
    args = {"source_dir": str(tree), "cache_dir": str(tmp_path / "cache"), "progress": False}
    before = registry.load_task("summarize", **args)
    assert registry.load_task("summarize", seed=1, **args).splits != before.splits
    path = tree / "json" / "decoder.py"
    path.write_text(path.read_text() + '\n\ndef added(text):\n    """Return the text in upper case, always."""\n'
                    "    value = text.upper()\n    return value\n")
    after = registry.load_task("summarize", **args)
    assert after.source != before.source  # new content hash
    assert "added" in {r["name"] for s in after.splits.values() for r in s}


def test_corrupt_task_cache_is_rebuilt_identically(tree, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    args = {"source_dir": str(tree), "cache_dir": str(cache_dir), "progress": False}
    first = registry.load_task("summarize", **args)
    for payload in cache_dir.glob("*.json.gz"):  # the task and the harvest both
        payload.write_bytes(payload.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="codereuse.data.cache"):
        rebuilt = registry.load_task("summarize", **args)
    assert rebuilt == first
    assert sum("corrupt" in r.getMessage() for r in caplog.records) == 2
