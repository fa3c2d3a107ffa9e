"""Genetic architecture search with Optuna's NSGA-II sampler under a HARD size budget.

Constraints are never traded off: every individual NSGA-II proposes is first *repaired* into the
feasible set (hidden a multiple of heads, fp32 file within the budget) and only the repaired
architecture is evaluated, as an enqueued trial with exactly those genes; the raw proposal is
recorded as a FAIL trial (``user_attrs["repaired_to"]``), which NSGA-II never selects as a parent.
Objectives: ``mode=gflops`` maximises GFLOPs at the task's sequence length (Compressor);
``mode=pareto`` minimises size and *measured* CPU latency at batch 1 and maximises GFLOPs.
"""
from __future__ import annotations

from collections.abc import Callable

from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm

from codereuse.compression.latency import latency_ms
from codereuse.compression.space import Architecture, SearchSpace, bert_config, gflops, parameters, size_bytes
from codereuse.errors import ConfigError

MODES = ("gflops", "pareto")
GENES = ("layers", "heads", "hidden", "intermediate", "vocab")
REPAIR_ORDER = ("vocab", "intermediate", "layers", "hidden")  # vocab first: it costs size but adds no FLOPs


@dataclass
class SearchSettings:
    budget_mb: float = 3.0
    mode: str = "gflops"
    population: int = 20
    generations: int = 10
    mutation_prob: float | None = None  # None: Optuna's default 1 / number of genes
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    seed: int = 0
    latency_repeats: int = 10
    space: dict = field(default_factory=dict)
    arch: str | None = None  # a fixed architecture: no search, still held to the space and the budget
    fixed_arch: Architecture | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError("search.mode", self.mode, MODES)
        if self.budget_mb <= 0:
            raise ConfigError("budget_mb", self.budget_mb, hint="a positive size in MB (10^6 bytes)")
        if self.population < 2 or self.generations < 1:
            raise ConfigError("search.population", self.population, hint="population >= 2 and generations >= 1")
        if self.arch:  # parsed here so that a malformed value fails before any teacher is trained
            self.fixed_arch = Architecture.parse(self.arch)


@dataclass
class Individual:
    arch: Architecture
    params: int
    size_mb: float
    gflops: float
    latency_ms: float | None
    trial: int
    generation: int

    def to_dict(self) -> dict:
        return {**self.arch.to_dict(), **{k: v for k, v in asdict(self).items() if k != "arch"}}


@dataclass
class SearchResult:
    best: Individual
    evaluated: list[Individual]
    pareto: list[Individual]
    repaired: int
    generations: list[dict]


class ArchitectureSearch:
    def __init__(self, settings: SearchSettings, seq_len: int | Callable[[int], int], max_positions: int, num_labels: int,
                 progress: bool = True) -> None:
        """``seq_len``: the student's mean sequence length, or a function of its vocabulary size giving
        it (``compression.lengths.LengthModel``): FLOPs and latency are counted at that length."""
        self.settings, self.max_positions, self.num_labels = settings, max_positions, num_labels
        self.seq_len = seq_len if callable(seq_len) else (lambda vocab: seq_len)
        self.space = SearchSpace.from_dict(settings.space)
        self.budget_bytes = int(settings.budget_mb * 1e6)
        self.progress = progress
        smallest = Architecture(*(self.space.grid(g)[0] for g in ("layers", "hidden", "heads", "intermediate", "vocab")))
        if not self.fits(smallest):
            raise ConfigError("budget_mb", settings.budget_mb, hint=f"even the smallest architecture ({smallest}) "
                              f"takes {size_bytes(smallest, max_positions, num_labels) / 1e6:.2f} MB")
        self._latency_cache: dict[Architecture, float] = {}

    # --- constraints ------------------------------------------------------------------------------
    def fits(self, arch: Architecture) -> bool:
        return size_bytes(arch, self.max_positions, self.num_labels) <= self.budget_bytes

    def feasible(self, arch: Architecture) -> bool:
        return arch.hidden % arch.heads == 0 and self.fits(arch) and self.space.contains(arch)

    def repair(self, arch: Architecture) -> Architecture:
        """The nearest feasible architecture at or below ``arch`` gene by gene (see REPAIR_ORDER)."""
        genes = arch.to_dict()
        if not self.space.hidden_choices(genes["heads"]):  # no hidden size divides: fewest heads that do
            genes["heads"] = next(h for h in self.space.grid("heads") if self.space.hidden_choices(h))
        hidden_ok = self.space.hidden_choices(genes["heads"])
        genes["hidden"] = max([h for h in hidden_ok if h <= genes["hidden"]] or [hidden_ok[0]])
        for gene in REPAIR_ORDER:
            if self.fits(Architecture(**genes)):
                break
            grid = self.space.hidden_choices(genes["heads"]) if gene == "hidden" else self.space.grid(gene)
            below = [v for v in grid if v <= genes[gene]]
            fitting = [v for v in below if self.fits(Architecture(**{**genes, gene: v}))]
            genes[gene] = max(fitting) if fitting else grid[0]
        repaired = Architecture(**genes)
        assert self.feasible(repaired), repaired  # the smallest architecture fits (checked in __init__)
        return repaired

    # --- objectives -------------------------------------------------------------------------------
    def evaluate(self, arch: Architecture, trial: int, generation: int) -> Individual:
        if not self.feasible(arch):  # the guarantee the tests check: nothing infeasible is evaluated
            raise AssertionError(f"infeasible architecture reached evaluation: {arch}")
        latency = self.latency(arch) if self.settings.mode == "pareto" else None
        return Individual(arch, parameters(arch, self.max_positions, self.num_labels),
                          size_bytes(arch, self.max_positions, self.num_labels) / 1e6,
                          gflops(arch, self.seq_len(arch.vocab), self.num_labels), latency, trial, generation)

    def latency(self, arch: Architecture) -> float:
        """Measured CPU milliseconds of one forward at batch 1 and the student's length (random weights)."""
        if arch not in self._latency_cache:
            from transformers import BertForSequenceClassification

            model = BertForSequenceClassification(bert_config(arch, self.max_positions, self.num_labels)).eval()
            ids = torch.randint(0, arch.vocab, (1, self.seq_len(arch.vocab)), generator=torch.Generator().manual_seed(0))
            mask = torch.ones_like(ids)
            self._latency_cache[arch] = latency_ms(lambda: model(input_ids=ids, attention_mask=mask),
                                                   repeats=self.settings.latency_repeats)
        return self._latency_cache[arch]

    # --- the GA -----------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        if self.settings.fixed_arch:
            return self.fixed(self.settings.fixed_arch)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        settings = self.settings
        sampler = optuna.samplers.NSGAIISampler(
            population_size=settings.population, mutation_prob=settings.mutation_prob,
            crossover_prob=settings.crossover_prob, swapping_prob=settings.swapping_prob, seed=settings.seed)
        pareto = settings.mode == "pareto"
        study = optuna.create_study(sampler=sampler, directions=["minimize", "minimize", "maximize"] if pareto else ["maximize"])
        distributions = self._distributions()
        evaluated, repaired, generations = [], 0, []
        total = settings.population * settings.generations
        bar = tqdm(total=total, desc=f"search ({settings.mode})", unit="arch", disable=not self.progress)
        while len(evaluated) < total:
            trial = study.ask(distributions)
            proposal = Architecture(**{g: trial.params[g] for g in ("layers", "hidden", "heads", "intermediate", "vocab")})
            if not self.feasible(proposal):
                arch = self.repair(proposal)
                trial.set_user_attr("repaired_to", arch.to_dict())
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                repaired += 1
                study.enqueue_trial(arch.to_dict())
                continue
            generation = len(evaluated) // settings.population
            individual = self.evaluate(proposal, trial.number, generation)
            study.tell(trial, [individual.size_mb, individual.latency_ms, individual.gflops] if pareto else individual.gflops)
            evaluated.append(individual)
            bar.update(1)
            if len(evaluated) % settings.population == 0:
                generations.append(self._generation_summary(generation, evaluated, repaired))
                bar.write(_format_generation(generations[-1], settings.generations))
        bar.close()
        front = self._pareto(study, evaluated) if pareto else []
        best = max(evaluated, key=lambda i: (i.gflops, -i.params))
        return SearchResult(best, evaluated, front, repaired, generations)

    def fixed(self, arch: Architecture) -> SearchResult:
        """``arch`` evaluated alone (e.g. an earlier search's pick, re-distilled with another seed)."""
        if not self.feasible(arch):
            size = size_bytes(arch, self.max_positions, self.num_labels) / 1e6
            raise ConfigError("search.arch", str(arch), hint=f"outside the search space, hidden not a multiple of heads, "
                              f"or over budget_mb={self.settings.budget_mb:g} ({size:.2f} MB)")
        individual = self.evaluate(arch, trial=0, generation=0)
        return SearchResult(individual, [individual], [individual] if self.settings.mode == "pareto" else [], 0, [])

    def _distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        out = {"heads": CategoricalDistribution(self.space.grid("heads"))}
        for gene in ("layers", "hidden", "intermediate", "vocab"):
            low, high, step = getattr(self.space, gene)
            out[gene] = IntDistribution(low, high, step=step)
        return out

    @staticmethod
    def _pareto(study, evaluated: list[Individual]) -> list[Individual]:
        by_trial = {i.trial: i for i in evaluated}
        unique = {by_trial[t.number].arch: by_trial[t.number] for t in study.best_trials}  # re-evaluated twins
        return sorted(unique.values(), key=lambda i: i.latency_ms)

    @staticmethod
    def _generation_summary(generation: int, evaluated: list[Individual], repaired: int) -> dict:
        current = [i for i in evaluated if i.generation == generation]
        best = max(evaluated, key=lambda i: i.gflops)
        return {"generation": generation, "evaluated": len(evaluated), "repaired_so_far": repaired,
                "best_gflops": best.gflops, "best_arch": str(best.arch),
                "generation_mean_gflops": sum(i.gflops for i in current) / len(current),
                "max_size_mb": max(i.size_mb for i in current)}


def dominates(a: tuple, b: tuple) -> bool:
    """Pareto dominance for minimised objectives: no worse in every one and better in at least one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pick(front: list[Individual], max_latency_ms: float | None) -> Individual:
    """The Pareto pick: the most GFLOPs within the latency target, else the fastest."""
    within = [i for i in front if max_latency_ms is None or i.latency_ms <= max_latency_ms]
    return max(within, key=lambda i: i.gflops) if within else min(front, key=lambda i: i.latency_ms)


def _format_generation(summary: dict, total: int) -> str:
    return (f"generation {summary['generation'] + 1}/{total}: best {summary['best_gflops']:.4f} GFLOPs "
            f"({summary['best_arch']}), generation mean {summary['generation_mean_gflops']:.4f}, "
            f"largest {summary['max_size_mb']:.2f} MB, {summary['repaired_so_far']} proposals repaired so far")

