"""Architecture search: exact analytic sizes / FLOPs, hard constraints, seeded, true Pareto fronts."""
from __future__ import annotations

import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertForSequenceClassification

from codereuse.compression.search import ArchitectureSearch, Individual, SearchSettings, dominates, pick
from codereuse.compression.space import Architecture, SearchSpace, bert_config, gflops, parameters, size_bytes
from codereuse.errors import ConfigError

ARCHS = [Architecture(1, 16, 1, 32, 1000), Architecture(3, 96, 4, 160, 2000), Architecture(2, 120, 8, 64, 1500)]


@pytest.mark.parametrize("arch", ARCHS, ids=str)
def test_parameter_count_is_exact(arch):
    model = BertForSequenceClassification(bert_config(arch, max_positions=96, num_labels=3))
    assert parameters(arch, 96, 3) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch", ARCHS[1:], ids=str)
def test_flops_match_the_profiler(arch):
    config = bert_config(arch, max_positions=128, num_labels=2)
    config._attn_implementation = "eager"  # the profiler does not count CPU SDPA kernels; eager attention is matmuls
    model = BertForSequenceClassification(config).eval()
    ids = torch.randint(0, arch.vocab, (1, 100))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    assert gflops(arch, 100) == pytest.approx(counter.get_total_flops() / 1e9, rel=0.03)


def search(**overrides) -> ArchitectureSearch:
    settings = SearchSettings(**{"budget_mb": 0.6, "population": 8, "generations": 3, "seed": 0, **overrides})
    return ArchitectureSearch(settings, seq_len=64, max_positions=128, num_labels=2, progress=False)


def test_same_seed_same_architecture_and_no_evaluated_individual_breaks_a_constraint(monkeypatch):
    runs = []
    for _ in range(2):
        engine = search(space={"heads": [1, 3, 8]})  # 3 heads: most hidden sizes (step 16) are not divisible
        seen = []
        evaluate = engine.evaluate
        monkeypatch.setattr(engine, "evaluate", lambda arch, *a: seen.append(arch) or evaluate(arch, *a))
        result = engine.run()
        assert len(seen) == 8 * 3 == len(result.evaluated) and result.repaired > 0
        for arch in seen:
            assert arch.hidden % arch.heads == 0 and engine.space.contains(arch)
            assert size_bytes(arch, 128, 2) <= 0.6e6
        runs.append(result.best.arch)
    assert runs[0] == runs[1]


def test_repair_is_feasible_and_leaves_feasible_architectures_alone():
    engine = search(space={"heads": [1, 3, 8]})
    space, rng = engine.space, random.Random(0)
    for _ in range(300):
        raw = Architecture(*(rng.choice(space.grid(g)) for g in ("layers", "hidden", "heads", "intermediate", "vocab")))
        repaired = engine.repair(raw)
        assert engine.feasible(repaired)
        assert all(getattr(repaired, g) <= getattr(raw, g) for g in ("layers", "intermediate", "vocab"))
        if engine.feasible(raw):
            assert repaired == raw


def test_pareto_mode_returns_the_true_front():
    result = search(mode="pareto", population=6, generations=2, latency_repeats=1).run()
    points = {i.arch: (i.size_mb, i.latency_ms, -i.gflops) for i in result.evaluated}
    front = {i.arch for i in result.pareto}
    for arch, point in points.items():
        dominated = any(dominates(other, point) for other in points.values())
        assert dominated == (arch not in front), arch


def test_dominance_and_pick():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (1, 2)) and not dominates((0, 3), (1, 2))
    a = Individual(ARCHS[0], 1, 1.0, 0.1, 1.0, 0, 0)
    b = Individual(ARCHS[1], 1, 1.0, 0.5, 5.0, 1, 0)
    assert pick([a, b], max_latency_ms=6.0) is b and pick([a, b], max_latency_ms=2.0) is a
    assert pick([a, b], max_latency_ms=0.5) is a  # nothing fast enough: the fastest


def test_bad_settings_fail_in_one_line():
    with pytest.raises(ConfigError, match="budget_mb"):
        search(budget_mb=0.01)
    with pytest.raises(ConfigError, match="search.mode"):
        SearchSettings(mode="random")
    with pytest.raises(ConfigError, match="search.space.hidden"):
        SearchSpace.from_dict({"hidden": [16, 100, 16]})


def test_a_fixed_architecture_skips_the_search_and_is_still_held_to_the_constraints():
    picked = search().run().best.arch
    assert Architecture.parse(str(picked)) == picked
    assert Architecture.parse("v1000,l3-h96_a4 i160") == Architecture(3, 96, 4, 160, 1000)
    for mode in ("gflops", "pareto"):
        result = search(arch=str(picked), mode=mode, latency_repeats=1).run()
        assert result.best.arch == picked and [i.arch for i in result.evaluated] == [picked]
        assert [i.arch for i in result.pareto] == ([picked] if mode == "pareto" else [])
    for bad in ("L3 H96 A4", "L3 H96 A4 I160 V1000 X9", "L1 L3 H96 A4 I160 V1000"):
        with pytest.raises(ConfigError, match="five genes"):
            search(arch=bad).run()
    infeasible = [({}, "L3 H100 A4 I160 V1000"),  # hidden off the step-16 grid
                  ({"heads": [1, 3]}, "L1 H32 A3 I32 V1000"),  # 32 % 3 != 0
                  ({}, "L12 H768 A8 I3072 V50000")]  # far over 0.6 MB
    for space, bad in infeasible:
        with pytest.raises(ConfigError, match=r"search\.arch.*budget_mb=0\.6"):
            search(arch=bad, space=space).run()
