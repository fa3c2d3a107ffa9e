"""How data build, frozen-prefix encoding, training cost and memory grow with published dataset sizes.

    python benchmarks/scale.py --out benchmarks/results/scale.json --plot benchmarks/results/scale.png
    python benchmarks/scale.py --sizes 9000,100000 --functions-sizes 10000       # chosen sizes only
    python benchmarks/scale.py --quick                                            # tiny sizes and model (the test)

Two synthetic copies of published benchmarks, written in their native formats to a temporary
directory and read through the project's own readers (``data.dir=``), so the reader's memory counts:

- ``pairs``, shaped like CodeXGLUE BigCloneBench (901,028 training pairs drawn from 9,134 functions):
  9,134 distinct standard-library functions as ``data.jsonl`` and N seeded training pairs of them
  (``train.txt``, random labels): a shuffled pass pairs every function once, then pairs are drawn
  uniformly, so from N = 4,567 on every size holds the same functions. The same small valid and
  test pairs at every N. Read as ``task=clone``. The smallest size is the reference of the cost ratio.
- ``functions``, shaped like CodeSearchNet Python (about 250,000 training functions): distinct
  functions with a docstring from the standard library and every package installed in this
  interpreter, as ``train.jsonl`` / ``valid.jsonl`` / ``test.jsonl`` with ``code`` and ``docstring``
  (the raw code, docstring included, as CodeSearchNet's ``code``); fixed valid and test functions.
  Read as ``task=search``. ``full`` is every function there is, up to 250,000; ``available`` says
  how many that is, and ``note`` when it is fewer (a larger size then runs at ``available``).

Each size runs in a fresh process, so its peak memory is its own, and builds what ``python train.py
task=<clone|search> data.dir=<dir> model=<model> freeze=top2 freeze.cache=true`` builds (the whole
training split, ``task.max_length=<max length>``), through ``codereuse.training.run``'s builders,
without the floors and the frozen reference. Per size (``sizes`` keys are training rows):

- ``rows`` per split; ``read_seconds`` (the reader), ``setup_seconds`` (``CodeDataModule.setup``:
  every distinct text tokenised once, rows sharing its token lists) and their sum ``build_seconds``;
- ``sequences_encoded`` / ``tokens_encoded``: the distinct token sequences of the training split
  (both inputs of a row) and their tokens: what the first, caching epoch runs through the frozen
  prefix;
- ``encode_seconds``: computing those states through the cache (``PrefixCache.fill``, in batches of
  as many sequences as a training batch holds, in the order the first epoch meets them). Where
  ``encoded_sample`` is set (the functions set, whose full encoding is too slow for a small CPU) only
  the first ``encoded_sample`` sequences are encoded (``--encode-sample``, raised to cover the timed
  steps), and ``encode_seconds_all`` scales their time to every sequence by tokens; otherwise
  ``encode_seconds_all`` equals ``encode_seconds``. ``encoded``: the states computed;
- ``cache_memory_gb`` / ``cache_disk_gb``: what the computed states take in the state store (float32
  in memory up to ``freeze.cache_memory_gb``, then float16 files); ``cache_plan``: the cache's own
  upper bound for the states of every split (``PrefixCache.estimate``, what the run prints before
  its first epoch) and ``cache_fits`` whether the run keeps its cache;
- ``cached_seconds_per_1k_pairs``: ``--steps`` training steps of the top two layers on the cached
  states through Lightning (the task's batch size), timed from the end of the first step to the end
  of the last, per 1,000 training rows (a row is a pair of functions, or a docstring and its
  function); ``states_computed_in_steps`` is 0 when every step replayed stored states;
- ``uncached_seconds_per_1k_pairs`` (on ``--uncached-at``): the same steps with ``freeze.cache=false``;
- ``peak_rss_gb``: the process's peak resident memory (``ru_maxrss``), data, model and states;
  ``threads``: torch's CPU threads.

Prints one JSON line (and writes it to ``--out``)::

    {"pairs": {"functions", "sizes": {N: {...}}, "peak_rss_gb_full", "encode_cost_ratio_full_vs_small"},
     "functions": {"available", "target", "roots", "encoded_sample", "sizes": {N: {...}}},
     "goals": {name: {"goal", "value", "met"}}, "model", "max_length", "steps", "command"}

Goals: ``encode_cost_ratio_full_vs_small`` (build + encoding seconds at the largest pairs size over
the smallest, same functions) <= 2; ``peak_rss_gb_full`` (the largest pairs size) < 8;
``cached_speedup`` (uncached over cached seconds per 1,000 pairs at ``--uncached-at``) >= 3.
Progress lines go to stderr. ``--plot`` draws seconds and memory against size (log x).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

FULL_PAIRS = 901_028  # CodeXGLUE BigCloneBench's training pairs
PAIR_FUNCTIONS = 9_134  # ... and the functions they are drawn from
CODESEARCHNET_FUNCTIONS = 250_000  # CodeSearchNet Python's training functions, roughly
GOALS = {"encode_cost_ratio_full_vs_small": ("<=", 2.0), "peak_rss_gb_full": ("<", 8.0), "cached_speedup": (">=", 3.0)}
STDLIB = Path(sysconfig.get_paths()["stdlib"])
FULL = {"sizes": [9_000, 10_000, 100_000, FULL_PAIRS], "functions_sizes": [10_000, 100_000, "full"],
        "pair_functions": PAIR_FUNCTIONS, "max_functions": CODESEARCHNET_FUNCTIONS, "eval_rows": 500,
        "encode_sample": 4_000, "uncached_at": 100_000, "model": "minilm", "steps": 20, "source": None}
# tiny everything: harvests one standard-library package, a random 6-layer model
QUICK = {"sizes": [60, 600], "functions_sizes": ["full"], "pair_functions": 60, "max_functions": 150,
         "eval_rows": 16, "encode_sample": 64, "uncached_at": 600, "model": "tiny", "steps": 3,
         "source": str(STDLIB / "email")}


def log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


# --- options --------------------------------------------------------------------------------------
def size_list(text: str) -> list:
    """``9000,100000`` -> [9000, 100000]; ``full`` stays a word (every function there is)."""
    return [item if item == "full" else int(item) for item in (s.strip() for s in text.split(",")) if item]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one small package, the tiny model (seconds)")
    parser.add_argument("--sizes", type=size_list, help=f"training pairs per size (default {FULL['sizes']})")
    parser.add_argument("--functions-sizes", type=size_list, help="training functions per size, 'full' = all "
                        f"(default {FULL['functions_sizes']})")
    parser.add_argument("--model", help=f"model config (default {FULL['model']})")
    parser.add_argument("--max-length", type=int, default=128, help="token limit of every input")
    parser.add_argument("--steps", type=int, help=f"training steps timed per size (default {FULL['steps']})")
    parser.add_argument("--encode-sample", type=int, help="sequences encoded per functions size "
                        f"(default {FULL['encode_sample']})")
    parser.add_argument("--uncached-at", type=int, help=f"the pairs size also timed uncached (default {FULL['uncached_at']})")
    parser.add_argument("--out", type=Path, help="write the JSON line here too")
    parser.add_argument("--plot", type=Path, help="draw cost and memory against size into this PNG")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one size's measurement, run by the parent
    args = parser.parse_args(argv)
    if args.sizes == []:
        parser.error("--sizes needs at least one size (the smallest is the reference of the cost ratio)")
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


# --- data -----------------------------------------------------------------------------------------
def installed_roots() -> list[Path]:
    """Every package directory installed in this interpreter (``site-packages``) holding Python files."""
    site = Path(sysconfig.get_paths()["purelib"])
    return sorted(path for path in site.iterdir() if path.is_dir() and "." not in path.name
                  and path.name != "__pycache__" and next(path.rglob("*.py"), None) is not None)


def distinct_functions(roots: list[str | None], documented: bool) -> list[dict]:
    """The harvested library functions of ``roots`` (None: the standard library), through the
    project's harvest cache, one per distinct code; with ``documented``, those with a docstring."""
    from codereuse.data.registry import source_functions

    functions: dict[str, dict] = {}
    for root in roots:
        for function in source_functions("search", source_dir=root, progress=False):
            if not documented or (function["docstring"] or "").strip():
                functions.setdefault(function["code"], function)
    return list(functions.values())


def drawn_pairs(functions: int, count: int, rng: random.Random) -> list[tuple[int, int]]:
    return [tuple(rng.sample(range(functions), 2)) for _ in range(count)]


def training_pairs(functions: int, size: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """``size`` seeded (idx1, idx2, label) triples: a shuffled pass pairing every function once
    (every function is in a pair from ``size >= functions / 2`` on), then uniform draws."""
    rng = random.Random(seed)
    order = rng.sample(range(functions), functions)
    pairs = [(order[i], order[(i + 1) % functions]) for i in range(0, functions, 2)][:size]
    pairs += drawn_pairs(functions, size - len(pairs), rng)
    return [(a, b, rng.randrange(2)) for a, b in pairs]


def write_bigclonebench(directory: Path, codes: list[str], size: int, eval_pairs: int) -> Path:
    """A BigCloneBench directory: ``data.jsonl`` (idx, func), ``train.txt`` with ``size`` pairs and
    the same seeded ``eval_pairs`` pairs in ``valid.txt`` and ``test.txt`` at every size."""
    directory.mkdir(parents=True)
    with open(directory / "data.jsonl", "w") as handle:
        handle.writelines(json.dumps({"idx": str(i), "func": code}) + "\n" for i, code in enumerate(codes))
    splits = {"train": training_pairs(len(codes), size)}
    for split in ("valid", "test"):
        splits[split] = [(a, b, i % 2) for i, (a, b) in enumerate(drawn_pairs(len(codes), eval_pairs, random.Random(split)))]
    for split, pairs in splits.items():
        with open(directory / f"{split}.txt", "w") as handle:
            handle.writelines(f"{a}\t{b}\t{label}\n" for a, b, label in pairs)
    return directory


def write_codesearchnet(directory: Path, splits: dict[str, list[dict]]) -> Path:
    """A CodeSearchNet directory: ``<split>.jsonl`` rows with ``code`` and ``docstring``."""
    directory.mkdir(parents=True)
    for split, functions in splits.items():
        with open(directory / f"{split}.jsonl", "w") as handle:
            handle.writelines(json.dumps({"code": f["code"], "docstring": f["docstring"]}) + "\n" for f in functions)
    return directory


# --- one size, in its own process ----------------------------------------------------------------
def child_overrides(spec: dict, cached: bool = True) -> list[str]:
    """``train.py`` overrides of one size: the whole training split, no validation, no logger or
    checkpoints, no floors or frozen reference (``test=false``), ``spec['steps']`` steps."""
    return [f"task={spec['task']}", f"data.dir={spec['data_dir']}", f"model={spec['model']}", "freeze=top2",
            f"freeze.cache={str(cached).lower()}", f"task.max_length={spec['max_length']}",
            "task.max_train_examples=null", "task.max_eval_examples=null", "test=false", "frozen_reference=false",
            "logger=none", "callbacks=none", "+trainer.enable_progress_bar=false", f"trainer.max_steps={spec['steps']}",
            "trainer.max_epochs=-1", "trainer.limit_val_batches=0"]


def measure(spec: dict) -> dict:
    """One size: build, encode, time the steps (cached, and uncached with ``spec['uncached']``)."""
    import torch
    from common import compose_train
    from codereuse.data.registry import load_task
    from codereuse.training.run import build_datamodule, build_module

    cfg = compose_train(child_overrides(spec))
    started = time.perf_counter()
    data = load_task(cfg.task.name, data_dir=cfg.data.dir, options=dict(cfg.task.options))
    read_seconds = time.perf_counter() - started
    module = build_module(cfg, data)
    started = time.perf_counter()
    datamodule = build_datamodule(cfg, data, module.tokenizer, module)
    datamodule.setup("fit")
    setup_seconds = time.perf_counter() - started
    log(f"{spec['name']} {spec['size']}: read {read_seconds:.1f} s, setup {setup_seconds:.1f} s")
    result = {"rows": {split: len(rows) for split, rows in datamodule.encoded.items()},
              "read_seconds": read_seconds, "setup_seconds": setup_seconds, "build_seconds": read_seconds + setup_seconds,
              **encode_states(module, datamodule, cfg, spec["encode_sample"])}
    log(f"{spec['name']} {spec['size']}: encoded {result['encoded']} of {result['sequences_encoded']} sequences "
        f"in {result['encode_seconds']:.1f} s")
    result.update(time_steps(cfg, module, datamodule, "cached"))
    if spec["uncached"]:
        plain_cfg = compose_train(child_overrides(spec, cached=False))
        result.update(time_steps(plain_cfg, build_module(plain_cfg, data), datamodule, "uncached"))
        shutil.rmtree(plain_cfg.paths.output_dir, ignore_errors=True)
    shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)
    return {**result, "peak_rss_gb": peak_rss_gb(), "threads": torch.get_num_threads()}


def epoch_sequences(datamodule, fields: tuple[str, ...], rows: int | None = None) -> dict:
    """The distinct training sequences (key -> token ids) of the first epoch's first ``rows`` rows
    (None: all), in the order it meets them."""
    from codereuse.methods.prefix_cache import distinct_sequences

    train = datamodule.encoded["train"]
    order = list(datamodule.train_dataloader().sampler)[:rows]
    return distinct_sequences({"train": [train[i] for i in order]}, fields)


def sequence_batches(sequences: list[tuple], batch_size: int, pad_id: int, every: int = 2_000):
    """(ids, mask, keys) batches of (key, token ids) items, padded by the data module's collator; a
    progress line every ``every`` sequences."""
    from codereuse.data.collate import Collator

    collate = Collator(pad_id)
    for start in range(0, len(sequences), batch_size):
        if start and start // every != (start - batch_size) // every:
            log(f"encoding: {start} of {len(sequences)} sequences")
        batch = collate([{"input_ids": ids, "input_key": key} for key, ids in sequences[start:start + batch_size]])
        yield batch["input_ids"], batch["input_mask"], batch["input_key"]


def encode_states(module, datamodule, cfg, sample: int | None) -> dict:
    """The caching epoch's frozen-prefix work on the training split through ``module``'s cache (all
    of it, or its first ``sample`` sequences and at least those of the timed steps), and what the
    states take."""
    from codereuse.methods.prefix_cache import distinct_sequences
    from codereuse.methods.state_store import GB

    cache, fields = module.prefix_cache, module.family.inputs
    every_split = [len(ids) for ids in distinct_sequences(datamodule.encoded, fields).values()]
    sequences = list(epoch_sequences(datamodule, fields).items())
    stepped = len(epoch_sequences(datamodule, fields, cfg.trainer.max_steps * cfg.task.batch_size))
    chosen = sequences[:max(sample, stepped)] if sample else sequences
    cache.states.run_dir = cfg.paths.output_dir  # where the run keeps its disk states
    module.eval()  # the frozen modules run in eval mode while training too
    started = time.perf_counter()
    computed = cache.fill(sequence_batches(chosen, cfg.task.batch_size * len(fields), module.tokenizer.pad_token_id))
    seconds = time.perf_counter() - started
    tokens, chosen_tokens = (sum(len(ids) for _, ids in items) for items in (sequences, chosen))
    return {"sequences_encoded": len(sequences), "tokens_encoded": tokens, "encoded": computed,
            **({"encoded_sample": len(chosen)} if sample else {}), "encode_seconds": seconds,
            "encode_seconds_all": seconds * tokens / max(chosen_tokens, 1),
            "cache_memory_gb": cache.states.memory_bytes / GB, "cache_disk_gb": cache.states.disk_bytes / GB,
            "cache_plan": cache.estimate(len(every_split), max(every_split, default=0))}


def time_steps(cfg, module, datamodule, arm: str) -> dict:
    """``cfg.trainer.max_steps`` training steps through Lightning; seconds per 1,000 rows over all
    steps but the first (start-up)."""
    import pytorch_lightning as pl

    from codereuse.training.run import build_trainer

    class StepClock(pl.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_batch_end(self, *args) -> None:
            self.ends.append(time.perf_counter())

    trainer, _ = build_trainer(cfg)
    clock = StepClock()
    trainer.callbacks.append(clock)
    cache = getattr(module, "prefix_cache", None)
    stored = len(cache.states) if cache is not None else 0
    trainer.fit(module, datamodule=datamodule)
    per_step = (clock.ends[-1] - clock.ends[0]) / max(len(clock.ends) - 1, 1)
    result = {f"{arm}_seconds_per_1k_pairs": per_step / cfg.task.batch_size * 1000, f"{arm}_steps": len(clock.ends)}
    if arm == "cached":  # the plan at the start of fit drops a cache that fits nowhere
        result["cache_fits"] = module.prefix_cache is not None
        result["states_computed_in_steps"] = len(cache.states) - stored
    log(f"{arm}: {result[f'{arm}_seconds_per_1k_pairs']:.2f} s per 1,000 rows")
    return result


def peak_rss_gb() -> float:
    from codereuse.methods.state_store import GB

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB  # ru_maxrss: KiB on Linux


def run_child(spec: dict) -> dict:
    """``measure(spec)`` in a fresh Python process (stderr passes through; stdout is its JSON)."""
    log(f"{spec['name']} {spec['size']}: starting")
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"scale: the {spec['name']} size {spec['size']} process failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the two sets ---------------------------------------------------------------------------------
def pairs_set(args, root: Path, common: dict) -> dict:
    functions = distinct_functions([args.source], documented=False)
    if len(functions) < args.pair_functions:
        raise SystemExit(f"scale: {len(functions)} distinct functions harvested, {args.pair_functions} needed")
    codes = [f["code"] for f in random.Random(0).sample(functions, args.pair_functions)]
    sizes = {}
    for size in sorted(args.sizes):
        directory = write_bigclonebench(root / f"pairs-{size}", codes, size, args.eval_rows)
        spec = {**common, "name": "pairs", "size": size, "task": "clone", "data_dir": str(directory),
                "encode_sample": None, "uncached": size == args.uncached_at}
        sizes[size] = run_child(spec)
        shutil.rmtree(directory)
    small, full = sizes[min(sizes)], sizes[max(sizes)]
    return {"functions": len(codes), "sizes": sizes, "peak_rss_gb_full": full["peak_rss_gb"],
            "encode_cost_ratio_full_vs_small": encode_cost(full) / encode_cost(small)}


def encode_cost(size: dict) -> float:
    return size["build_seconds"] + size["encode_seconds_all"]


def functions_set(args, root: Path, common: dict) -> dict:
    if not args.functions_sizes:  # --functions-sizes "": the pairs set alone
        return {"sizes": {}}
    roots = [args.source] if args.source else [None, *map(str, installed_roots())]
    functions = distinct_functions(roots, documented=True)
    random.Random(0).shuffle(functions)
    valid, test = functions[: args.eval_rows], functions[args.eval_rows: 2 * args.eval_rows]
    train = functions[2 * args.eval_rows:][: args.max_functions]
    log(f"functions: {len(train)} training functions available (target {args.max_functions})")
    sizes = {}
    for size in sorted({len(train) if s == "full" else min(s, len(train)) for s in args.functions_sizes}):
        directory = write_codesearchnet(root / f"functions-{size}", {"train": train[:size], "valid": valid, "test": test})
        spec = {**common, "name": "functions", "size": size, "task": "search", "data_dir": str(directory),
                "encode_sample": args.encode_sample, "uncached": False}
        sizes[size] = run_child(spec)
        shutil.rmtree(directory)
    result = {"available": len(train), "target": args.max_functions, "roots": len(roots),
              "encoded_sample": args.encode_sample, "sizes": sizes}
    if len(train) < args.max_functions:
        result["note"] = (f"{len(train)} distinct documented training functions are all the {len(roots)} source "
                          f"trees hold, short of {args.max_functions}; larger sizes run at {len(train)}")
    return result


def goals(pairs: dict, uncached_at: int) -> dict:
    """Each goal's threshold, measured value and whether it is met (None: not measured)."""
    at = pairs["sizes"].get(uncached_at, {})
    speedup = (at["uncached_seconds_per_1k_pairs"] / at["cached_seconds_per_1k_pairs"]
               if "uncached_seconds_per_1k_pairs" in at else None)
    values = {"encode_cost_ratio_full_vs_small": pairs["encode_cost_ratio_full_vs_small"],
              "peak_rss_gb_full": pairs["peak_rss_gb_full"], "cached_speedup": speedup}
    checks = {"<=": lambda v, g: v <= g, "<": lambda v, g: v < g, ">=": lambda v, g: v >= g}
    result = {name: {"goal": f"{op} {goal:g}", "value": values[name],
                     "met": None if values[name] is None else checks[op](values[name], goal)}
              for name, (op, goal) in GOALS.items()}
    result["cached_speedup"]["pairs"] = uncached_at
    return result


# --- plot -----------------------------------------------------------------------------------------
def plot(line: dict, path: Path) -> None:
    """Seconds (data build, first-epoch encoding, 1,000 cached training rows) and GB (peak RSS, every
    state in float32) against size, per set, log x."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = {"seconds": {"data build": lambda size: size["build_seconds"],
                          "encoding (first epoch)": lambda size: size["encode_seconds_all"],
                          "1,000 cached training rows": lambda size: size["cached_seconds_per_1k_pairs"]},
              "GB": {"peak RSS": lambda size: size["peak_rss_gb"],
                     "all states, float32 (estimate)": lambda size: size["cache_plan"]["total_gb"]}}
    sets = {"pairs": "training pairs (BigCloneBench-shaped)", "functions": "training functions (CodeSearchNet-shaped)"}
    figure = Figure(figsize=(11, 7))
    for column, (name, xlabel) in enumerate(sets.items()):
        sizes = sorted(line[name]["sizes"].items(), key=lambda item: int(item[0]))
        for row, (unit, curves) in enumerate(series.items()):
            axes = figure.add_subplot(2, 2, 2 * row + column + 1)
            for label, value in curves.items():
                axes.plot([int(n) for n, _ in sizes], [value(size) for _, size in sizes], marker="o", label=label)
            axes.set_xscale("log")
            axes.set(xlabel=xlabel, ylabel=unit, title=f"{name}: {unit}")
            axes.legend(fontsize=8)
    figure.suptitle(f"Cost against dataset size ({line['model']}, {line['max_length']} tokens, freeze=top2 cached)")
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


# --- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict | None:
    args = parse(argv)
    if args.child:
        spec = json.loads(args.child)
        with contextlib.redirect_stdout(sys.stderr):  # the cache's plan, Lightning: stdout carries the JSON alone
            result = measure(spec)
        print(json.dumps(result))
        return None
    common = {"model": args.model, "max_length": args.max_length, "steps": args.steps}
    with tempfile.TemporaryDirectory(prefix="codereuse-scale-") as root:
        pairs = pairs_set(args, Path(root), common)
        functions = functions_set(args, Path(root), common)
    line = {"pairs": pairs, "functions": functions, "goals": goals(pairs, args.uncached_at), **common,
            "command": " ".join(["python benchmarks/scale.py", *(argv if argv is not None else sys.argv[1:])])}
    line = json.loads(json.dumps(line))  # integer size keys as the JSON file has them
    print(json.dumps(line))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(line, indent=1) + "\n")
    if args.plot:
        plot(line, args.plot)
    return line


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
