"""The probe datasets of Telly's study, built from real code (harvested functions, clone pairs).

- lexical: token type from Python's :mod:`tokenize` (keyword, name, number, string, operator,
  delimiter, comment) of the character each subword token starts with;
- syntactic: type of the innermost AST node covering that character (the most frequent
  ``SYNTAX_CLASSES`` types, the rest ``other``);
- structural: cyclomatic complexity class of the whole function;
- semantic: clone retrieval (needs no training): by default code1 of the clone task's positive test
  pairs ranks their code2 sides; with ``clones=<dir>`` the clone pairs of one split of a published
  pair dataset (e.g. independently written LeetCode solutions), each function ranking all others.

All else comes from the (cached) clone task, whose ``code1`` sides are real functions printed
without docstrings and split by source file with near-duplicates removed: probes train on
functions of its train split and are tested on its valid + test splits, so no file is on both.
Drift is measured on held-out functions alone (:func:`heldout_functions`).
"""
from __future__ import annotations

import ast
import io
import keyword
import random
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from codereuse.analysis.config import REWRITE_PAIRS, ProbeConfig
from codereuse.models.features import encode
from codereuse.data.registry import load_task
from codereuse.data.types import DataError, TaskData

LEXICAL = ("keyword", "name", "number", "string", "operator", "delimiter", "comment")
# Python's delimiters (reference manual, "Delimiters") that are not operators; all other OP tokens are.
DELIMITERS = frozenset("( ) [ ] { } , : . ; @ = -> += -= *= /= //= %= @= &= |= ^= >>= <<= **=".split())
SYNTAX_CLASSES = 12
# share of the probe functions held out for testing: enough for the function-level (structural) probe
HELDOUT_SHARE = 0.4
# Complexity classes: (lowest value, name); a function falls in the last class whose lowest it reaches.
COMPLEXITY_CLASSES = ((1, "1"), (2, "2-3"), (4, "4-6"), (7, "7+"))
_DECISIONS = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.match_case)


@dataclass
class CloneRetrieval:
    """The semantic probe's retrieval set: each query ranks the candidates by similarity.

    ``candidates`` None: the queries rank each other (all-vs-all, a function never ranks itself).
    """
    queries: list[str]
    candidates: list[str] | None
    relevant: np.ndarray  # bool (queries, candidates): relevant[i, j] when candidate j is a clone of query i
    source: str  # where the pairs come from, for tables and plots
    pairs: int  # clone pairs the set is made of

    @property
    def all_pairs(self) -> bool:
        return self.candidates is None

    @property
    def functions(self) -> int:
        return len(self.queries) + (0 if self.candidates is None else len(self.candidates))


@dataclass
class ProbeSet:
    codes: list[str]  # probe functions, train side first
    n_train: int
    positions: list[list[int]]  # per function: sampled token positions (see features.encode)
    lexical: np.ndarray  # per sampled token, functions in order
    syntactic: np.ndarray
    structural: np.ndarray  # per function
    clones: CloneRetrieval
    label_names: dict[str, list[str]]

    def function_is_train(self) -> np.ndarray:
        return np.arange(len(self.codes)) < self.n_train

    def token_is_train(self) -> np.ndarray:
        return np.repeat(self.function_is_train(), [len(p) for p in self.positions])


# --- labels of hand-written or harvested code ---------------------------------------------------
def lexical_labels(code: str) -> list[str | None]:
    """Token type of every character of ``code`` (None for whitespace and layout tokens)."""
    labels: list[str | None] = [None] * len(code)
    starts = _line_starts(code)
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        kind = _lexical_kind(token)
        if kind is not None:
            begin, end = starts[token.start[0] - 1] + token.start[1], starts[token.end[0] - 1] + token.end[1]
            labels[begin:end] = [kind] * (end - begin)
    return labels


def _lexical_kind(token: tokenize.TokenInfo) -> str | None:
    name = tokenize.tok_name[token.type]
    if name == "NAME":
        return "keyword" if keyword.iskeyword(token.string) else "name"
    if name == "OP":
        return "delimiter" if token.string in DELIMITERS else "operator"
    if name == "STRING" or name.startswith("FSTRING"):  # Python 3.12 splits f-strings in parts
        return "string"
    return {"NUMBER": "number", "COMMENT": "comment"}.get(name)


def syntax_labels(tree: ast.AST, code: str) -> list[str | None]:
    """Type of the innermost AST node covering every character of ``code`` (parsed as ``tree``)."""
    labels: list[str | None] = [None] * len(code)
    starts, lines = _line_starts(code), code.splitlines(keepends=True)
    for node in ast.walk(tree):  # breadth first: a node is visited after its ancestors and overwrites them
        if getattr(node, "end_col_offset", None) is None:
            continue
        begin = starts[node.lineno - 1] + _char_column(lines[node.lineno - 1], node.col_offset)
        end = starts[node.end_lineno - 1] + _char_column(lines[node.end_lineno - 1], node.end_col_offset)
        labels[begin:end] = [type(node).__name__] * (end - begin)
    return labels


def cyclomatic_complexity(function: ast.AST) -> int:
    """McCabe's number from the AST: 1 + decisions (if/elif, conditional expression, loops,
    except handlers, match cases, each extra operand of and/or, each comprehension's for and if).
    Nested defs count towards the function that contains them."""
    count = 1
    for node in ast.walk(function):
        if isinstance(node, _DECISIONS):
            count += 1
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
    return count


def complexity_class(complexity: int) -> int:
    return max(i for i, (lowest, _) in enumerate(COMPLEXITY_CLASSES) if complexity >= lowest)


def _line_starts(code: str) -> list[int]:
    starts, total = [], 0
    for line in code.splitlines(keepends=True) or [""]:
        starts.append(total)
        total += len(line)
    return starts + [total]  # tokenize's ENDMARKER sits on the line after the last


def _char_column(line: str, byte_column: int) -> int:
    """``ast`` columns count UTF-8 bytes; string indices count characters."""
    return byte_column if line.isascii() else len(line.encode()[:byte_column].decode(errors="ignore"))


# --- the probe set ------------------------------------------------------------------------------
def clone_task(config: ProbeConfig, progress: bool = True) -> TaskData:
    """The clone task: its ``code1`` sides are printed functions without docstrings, split by file."""
    return load_task("clone", source_dir=config.source_dir, cache_dir=config.cache_dir, seed=config.data_seed,
                     progress=progress)


def probe_functions(task: TaskData, config: ProbeConfig) -> tuple[list[str], list[str]]:
    """(train, held-out) probe functions, ``max_functions`` in all when there are enough: distinct
    ``code1`` of the train split and of the valid + test splits, ``HELDOUT_SHARE`` of them held out."""
    n_heldout = round(config.max_functions * HELDOUT_SHARE)
    heldout = _sample(task.splits["valid"] + task.splits["test"], n_heldout, config.seed)
    train = _sample(task.splits["train"], config.max_functions - len(heldout), config.seed)
    if len(train) < 2 or len(heldout) < 2:
        raise DataError(f"the clone task yields {len(train)} train and {len(heldout)} held-out probe functions; "
                        f"use a larger source_dir")
    return train, heldout


def heldout_functions(task: TaskData, config: ProbeConfig) -> list[str]:
    """Up to ``max_functions`` distinct ``code1`` of the valid + test splits: the fixed set drift is
    measured on, which fine-tuning on the clone task never trained on."""
    functions = _sample(task.splits["valid"] + task.splits["test"], config.max_functions, config.seed)
    if len(functions) < 2:
        raise DataError(f"the clone task has {len(functions)} held-out functions; use a larger source_dir")
    return functions


def _sample(records: list[dict], count: int, seed: int) -> list[str]:
    """Up to ``count`` distinct ``code1``, seeded, in a stable order."""
    functions = sorted({record["code1"] for record in records})
    return sorted(random.Random(seed).sample(functions, min(len(functions), count)))


def clone_positives(task: TaskData, config: ProbeConfig) -> tuple[list[str], list[str]]:
    """Up to ``clone_pairs`` (default 150) positive pairs of the test split."""
    pairs = sorted((r["code1"], r["code2"]) for r in task.splits["test"] if r["label"] == 1)
    pairs = random.Random(config.seed).sample(pairs, min(len(pairs), config.clone_pairs or REWRITE_PAIRS))
    if len(pairs) < 2:
        raise DataError(f"the clone task has {len(pairs)} positive test pairs; use a larger source_dir")
    return [a for a, _ in pairs], [b for _, b in pairs]


def rewrite_retrieval(task: TaskData, config: ProbeConfig) -> CloneRetrieval:
    """The default semantic set: code1 of each positive test pair of the clone task ranks all code2."""
    code1, code2 = clone_positives(task, config)
    built = f"source_dir={config.source_dir}" if config.source_dir else "the standard library"
    return CloneRetrieval(code1, code2, np.eye(len(code1), dtype=bool),
                          f"clone task rewrite pairs from {built} (test split)", len(code1))


def published_retrieval(config: ProbeConfig, progress: bool = True) -> CloneRetrieval:
    """The clone pairs (label 1) of split ``config.clones_split`` of the published pair dataset in
    ``config.clones`` (up to ``clone_pairs`` of them, seeded; default all), read by the project's
    reader. Every function of those pairs queries all the others; its listed partners are relevant."""
    published = load_task("clone", data_dir=config.clones, progress=progress)
    records = published.splits.get(config.clones_split) or []
    pairs = sorted({tuple(sorted((r["idx1"], r["idx2"]))) for r in records
                    if r["label"] == 1 and r["idx1"] != r["idx2"]})  # a function is not its own query's answer
    if config.clone_pairs is not None and len(pairs) > config.clone_pairs:
        pairs = sorted(random.Random(config.seed).sample(pairs, config.clone_pairs))
    if len(pairs) < 2:
        raise DataError(f"clones={config.clones}: its {config.clones_split} split has {len(pairs)} clone pairs "
                        f"(label 1); the semantic probe needs at least 2")
    code = {r[f"idx{side}"]: r[f"code{side}"] for r in records for side in (1, 2)}
    ids = sorted({idx for pair in pairs for idx in pair})
    index = {idx: i for i, idx in enumerate(ids)}
    relevant = np.zeros((len(ids), len(ids)), dtype=bool)
    for a, b in pairs:
        relevant[index[a], index[b]] = relevant[index[b], index[a]] = True
    return CloneRetrieval([code[idx] for idx in ids], None, relevant,
                          f"{config.clones} ({config.clones_split} split)", len(pairs))


def build_probe_set(tokenizer, config: ProbeConfig, progress: bool = True, task: TaskData | None = None) -> ProbeSet:
    """The probe set for ``tokenizer``'s tokens; ``task`` is the clone task when already loaded."""
    published = published_retrieval(config, progress) if config.clones is not None else None  # its errors first
    task = task or clone_task(config, progress)
    train, test = probe_functions(task, config)
    codes = train + test
    rng = random.Random(config.seed)
    encodings = encode(tokenizer, codes, config.max_length)
    positions, lexical, syntactic, structural = [], [], [], []
    for index, code in enumerate(tqdm(codes, desc="probe labels", unit="fn", disable=not progress, leave=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
        token_labels = _token_labels(encodings["offset_mapping"][index], code, lexical_labels(code), syntax_labels(tree, code))
        chosen = sorted(rng.sample(sorted(token_labels), min(len(token_labels), config.tokens_per_function)))
        positions.append(chosen)
        lexical.extend(token_labels[p][0] for p in chosen)
        syntactic.extend(token_labels[p][1] for p in chosen)
        structural.append(complexity_class(cyclomatic_complexity(tree.body[0])))
    clones = published or rewrite_retrieval(task, config)
    syntax_names = [name for name, _ in Counter(syntactic).most_common(SYNTAX_CLASSES)] + ["other"]
    return ProbeSet(
        codes, len(train), positions,
        lexical=np.array([LEXICAL.index(label) for label in lexical]),
        syntactic=np.array([syntax_names.index(s) if s in syntax_names else len(syntax_names) - 1 for s in syntactic]),
        structural=np.array(structural), clones=clones,
        label_names={"lexical": list(LEXICAL), "syntactic": syntax_names,
                     "structural": [name for _, name in COMPLEXITY_CLASSES]},
    )


def _token_labels(offsets, code: str, lexical: list, syntax: list) -> dict[int, tuple[str, str]]:
    """(lexical, syntactic) label of each subword token, from the first non-space character it
    covers; special tokens, pure whitespace and characters without a label are left out."""
    labels = {}
    for position, (begin, end) in enumerate(offsets):
        first = next((i for i in range(begin, end) if not code[i].isspace()), None)
        if first is not None and lexical[first] is not None and syntax[first] is not None:
            labels[position] = (lexical[first], syntax[first])
    return labels
