"""Readers for published benchmark files in their native layouts (selected with ``data.dir=``).

Each format turns a directory into a :class:`TaskData`. Bad lines (malformed JSON, non-UTF-8,
missing fields) are skipped and counted in ``TaskData.skipped``; a missing directory, a directory
without the expected files, or paired files of different lengths raise a one-line ``DataError``.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from codereuse.data.types import DataError, TaskData

CODEXGLUE_TRANS_URL = "https://github.com/microsoft/CodeXGLUE/tree/main/Code-Code/code-to-code-trans"
_SPLIT_NAMES = ("train", "valid", "test")
_ATLAS_SPLITS = {"train": ("Training",), "valid": ("Eval", "Validation"), "test": ("Testing",)}
_CARVE_FRACTION, _CARVE_MAX = 20, 500  # carve 1/20 (5%) of train, at most 500 records
# reasons a line (not a file) is dropped; more than this share of all lines dropped is a warning
_LINE_REASONS = ("non_utf8_lines", "bad_json", "missing_field", "bad_line", "missing_idx", "empty_lines")
_WARN_DROPPED = 0.01
log = logging.getLogger(__name__)


def read_task(task: str, data_dir: str | os.PathLike, fmt: str | None = None) -> TaskData:
    """Read ``task`` from published files in ``data_dir``; ``fmt`` forces a format, else detected."""
    if task not in _TASK_FORMATS:
        raise DataError(f"unknown task {task!r}; published-data readers exist for "
                        f"{sorted(_TASK_FORMATS)}")
    root = Path(data_dir)
    formats = _TASK_FORMATS[task]
    if fmt is not None and fmt not in formats:
        raise DataError(f"format {fmt!r} does not provide task {task!r}; use one of {list(formats)}")
    if not root.is_dir():
        raise DataError(_missing_message(root, task, formats, "does not exist"))
    chosen = fmt or next((f for f in formats if _FORMATS[f].detect(root)), None)
    if chosen is None or not _FORMATS[chosen].detect(root):
        raise DataError(_missing_message(root, task, [chosen] if chosen else formats,
                                         "has none of the expected files"))
    skipped: Counter = Counter()
    splits, label_names = _FORMATS[chosen].read(task, root, skipped)
    if not splits.get("train"):
        raise DataError(_no_records_message(root, task, chosen, skipped))
    _warn_if_many_dropped(root, splits, skipped)
    splits, note = _complete(splits)
    source = f"{_FORMATS[chosen].title} from {root}" + (f" ({note})" if note else "")
    return TaskData(task, _TASK_FAMILY[task], splits, label_names, source,
                    dict(sorted(skipped.items())))


Splits = dict[str, list[dict]]
_Read = tuple[Splits, list[str] | None]  # records per split present, label names


class _Format(NamedTuple):
    title: str
    expected: str  # the files it needs, for error messages
    detect: Callable[[Path], bool]
    read: Callable[[str, Path, Counter], _Read]


def _missing_message(root: Path, task: str, formats, problem: str) -> str:
    expected = "; or ".join(f"{_FORMATS[f].title}: {_FORMATS[f].expected}" for f in formats)
    hint = f" (get CodeXGLUE from {CODEXGLUE_TRANS_URL})" if task == "translate" else ""
    return f"data directory {root} {problem} for task {task!r}; expected {expected}{hint}"


def _no_records_message(root: Path, task: str, fmt: str, skipped: Counter) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if files and all(p.stat().st_size == 0 for p in files):
        names = ", ".join(p.name for p in files[:5]) + (", ..." if len(files) > 5 else "")
        return f"data directory {root}: every data file is empty ({names}); no {task!r} records to read"
    train = _jsonl_file(root, "train")
    found = _first_row_fields(train) if train is not None else None
    if skipped.get("missing_field") and found is not None:
        return (f"{train}: no usable {task!r} records, none has the fields it reads; expected {_FORMATS[fmt].title}: "
                f"{_FORMATS[fmt].expected}; found fields: {', '.join(found) or 'none'}")
    return f"{root}: no usable {task!r} records in a train split (skipped: {dict(skipped)})"


def _first_row_fields(path: Path) -> list[str] | None:
    for row in _jsonl(path, Counter()):
        return sorted(row)
    return None


def _warn_if_many_dropped(root: Path, splits: "Splits", skipped: Counter) -> None:
    dropped = {k: skipped[k] for k in _LINE_REASONS if skipped.get(k)}
    total = sum(dropped.values()) + sum(len(rows) for rows in splits.values())
    if total and sum(dropped.values()) > _WARN_DROPPED * total:
        reasons = ", ".join(f"{k} {v:,}" for k, v in dropped.items())
        log.warning("%s: %s of %s lines (%.1f%%) were dropped (%s)", root, f"{sum(dropped.values()):,}",
                    f"{total:,}", 100 * sum(dropped.values()) / total, reasons)


# --- line and file helpers ----------------------------------------------------------------------

def _lines(path: Path, skipped: Counter) -> Iterator[str | None]:
    """Lines split on "\\n" only (code may contain other Unicode line breaks); None for a line that
    is not UTF-8, counted as ``non_utf8_lines``, so paired files stay aligned. A file none of whose
    lines decodes is in another encoding altogether: that is an error, not a skip."""
    opener = gzip.open if path.suffix == ".gz" else open
    lines = undecodable = 0
    with opener(path, "rb") as handle:
        for raw in handle:
            lines += 1
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                undecodable += 1
                skipped["non_utf8_lines"] += 1
                yield None
    if lines and undecodable == lines:
        raise DataError(f"{path} is not UTF-8 text (none of its {lines:,} lines decodes); re-encode it, "
                        f"e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}")


def _jsonl(path: Path, skipped: Counter) -> Iterator[dict]:
    for line in _lines(path, skipped):
        if line is None or not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            yield row
        else:
            skipped["bad_json"] += 1


def _jsonl_file(root: Path, split: str) -> Path | None:
    return next((p for p in (root / f"{split}.jsonl", root / f"{split}.jsonl.gz") if p.is_file()), None)


def _has_jsonl(root: Path) -> bool:
    return _jsonl_file(root, "train") is not None


def _read_jsonl_splits(root: Path, skipped: Counter, convert: Callable[[dict], dict | None]):
    """Rows per split through ``convert``; rows it rejects (None) count as ``missing_field``."""
    splits: Splits = {}
    for split in _SPLIT_NAMES:
        path = _jsonl_file(root, split)
        if path is None:
            continue
        splits[split] = []
        for row in _jsonl(path, skipped):
            record = convert(row)
            if record is None:
                skipped["missing_field"] += 1
            else:
                splits[split].append(record)
    return splits


def _text(row: dict, *keys: str) -> str | None:
    """First non-empty string among keys; token lists are joined with spaces."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, list) and value and all(isinstance(t, str) for t in value):
            value = " ".join(value)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _with_idx(record: dict, row: dict) -> dict:
    if "idx" in row:
        record["idx"] = row["idx"]
    return record


def _complete(splits: Splits) -> tuple[Splits, str]:
    """Fill missing splits: test falls back to the published valid split, and what is still missing
    is carved deterministically out of train (every 20th record, at most 500)."""
    notes = []
    if "test" not in splits and "valid" in splits:
        splits["test"] = splits.pop("valid")
        notes.append("test = published valid split (no test split)")
    for split in ("test", "valid"):
        if split not in splits:
            notes.append(_carve(splits, split))
    return {split: splits[split] for split in _SPLIT_NAMES}, "; ".join(notes)


def _carve(splits: Splits, split: str) -> str:
    train = splits["train"]
    if len(train) < 2:
        splits[split] = []
        return f"no {split} split"
    n = min(_CARVE_MAX, max(1, len(train) // _CARVE_FRACTION))  # at least one record to evaluate on
    step = len(train) // n
    carved = set(range(step - 1, step * n, step))
    splits[split] = [r for i, r in enumerate(train) if i in carved]
    splits["train"] = [r for i, r in enumerate(train) if i not in carved]
    return f"{split} = {n} of {len(train)} train records carved out (index step {step})"


# --- formats ------------------------------------------------------------------------------------

def _read_devign(task: str, root: Path, skipped: Counter) -> _Read:
    def convert(row: dict) -> dict | None:
        code, target = _text(row, "func"), row.get("target")
        if code is None or target not in (0, 1, "0", "1"):
            return None
        return _with_idx({"code": code, "label": int(target)}, row)

    return _read_jsonl_splits(root, skipped, convert), ["clean", "defective"]


def _read_poj104(task: str, root: Path, skipped: Counter) -> _Read:
    def convert(row: dict) -> dict | None:
        code, label = _text(row, "code"), row.get("label")
        if code is None or not isinstance(label, (str, int)) or isinstance(label, bool):
            return None
        return _with_idx({"code": code, "label": str(label)}, row)

    splits = _read_jsonl_splits(root, skipped, convert)
    _check_problems_seen_in_train(root, splits)
    labels = {r["label"] for rows in splits.values() for r in rows}
    numeric = all(label.lstrip("-").isdigit() for label in labels)
    names = sorted(labels, key=int if numeric else str)  # "2" before "10"
    index = {name: i for i, name in enumerate(names)}
    for rows in splits.values():
        for r in rows:
            r["label"] = index[r["label"]]
    return splits, names


def _check_problems_seen_in_train(root: Path, splits: Splits) -> None:
    """Problem ids are classes only if the evaluated splits share them with train. CodeXGLUE's
    POJ-104 splits by problem (train 1-64, valid 65-80, test 81-104): there an id names a group of
    solutions to retrieve (MAP@R), and read as classes it would be a task no model can score on."""
    seen = {r["label"] for r in splits.get("train", [])}
    for split in ("valid", "test"):
        labels = {r["label"] for r in splits.get(split, [])}
        unseen = labels - seen
        if labels and unseen == labels:
            raise DataError(f"{root}: none of the {len(labels)} problem ids of {split} occurs among the {len(seen)} of "
                            f"train, so they cannot be classes (a disjoint-problem split like CodeXGLUE's POJ-104 is "
                            f"a retrieval benchmark scored by MAP@R); use a split whose {split} problems also appear "
                            f"in train")
        if unseen:
            log.warning("%s: %d of the %d problem ids of %s never occur in train; their %d records cannot be "
                        "classified correctly", root, len(unseen), len(labels), split,
                        sum(r["label"] in unseen for r in splits[split]))


def _read_codesearchnet(task: str, root: Path, skipped: Counter) -> _Read:
    # Token fields first: CodeSearchNet's raw ``code`` still contains the docstring (the target).
    def convert(row: dict) -> dict | None:
        code = _text(row, "code_tokens", "code", "function")
        doc = _text(row, "docstring_tokens", "docstring")
        if code is None or doc is None:
            return None
        record = {"source": code, "target": doc} if task == "summarize" else {"query": doc, "code": code}
        return _with_idx(record, row)

    return _read_jsonl_splits(root, skipped, convert), None


def _read_seq2seq_jsonl(task: str, root: Path, skipped: Counter) -> _Read:
    def convert(row: dict) -> dict | None:
        source, target = _text(row, "source"), _text(row, "target")
        return None if source is None or target is None else _with_idx(
            {"source": source, "target": target}, row)

    return _read_jsonl_splits(root, skipped, convert), None


def _paired_records(source: Path, target: Path, skipped: Counter) -> list[dict]:
    """Seq2seq records from two line-aligned files; ``idx`` is the line number."""
    src, tgt = list(_lines(source, skipped)), list(_lines(target, skipped))
    if len(src) != len(tgt):
        raise DataError(f"paired files differ in length: {source} has {len(src)} lines, "
                        f"{target} has {len(tgt)}")
    records = []
    for i, (s, t) in enumerate(zip(src, tgt)):
        if s is None or t is None:
            continue  # already counted as non_utf8
        if s.strip() and t.strip():
            records.append({"source": s, "target": t, "idx": i})
        else:
            skipped["empty_lines"] += 1
    return records


def _atlas_dir(root: Path, split: str) -> Path | None:
    for name in _ATLAS_SPLITS[split]:
        if (root / name / "testMethods.txt").is_file() and (root / name / "assertLines.txt").is_file():
            return root / name
    return None


def _read_atlas(task: str, root: Path, skipped: Counter) -> _Read:
    splits = {}
    for split in _ATLAS_SPLITS:
        folder = _atlas_dir(root, split)
        if folder is not None:
            splits[split] = _paired_records(folder / "testMethods.txt", folder / "assertLines.txt",
                                            skipped)
    return splits, None


_TRANS_FILE = re.compile(r"^(train|valid|test)\.(java-cs|cs-java)\.txt\.(java|cs)$")


def _translation_files(root: Path) -> dict[str, dict[str, Path]]:
    """split -> {"java": path, "cs": path}, from ``<split>.<pair>.txt.<lang>`` names."""
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(root.iterdir()):
        match = _TRANS_FILE.match(path.name)
        if match:
            found.setdefault(match.group(1), {})[match.group(3)] = path
    return {split: langs for split, langs in found.items() if len(langs) == 2}


def _read_translation(task: str, root: Path, skipped: Counter) -> _Read:
    splits = {}
    for split, langs in _translation_files(root).items():
        splits[split] = _paired_records(langs["java"], langs["cs"], skipped)
    return splits, None


def _read_bigclonebench(task: str, root: Path, skipped: Counter) -> _Read:
    functions = {}
    for row in _jsonl(root / "data.jsonl", skipped):
        code = _text(row, "func")
        if "idx" in row and code is not None:
            functions[str(row["idx"])] = code
        else:
            skipped["missing_field"] += 1
    kinds = _pair_types(root / "pair_types.txt", skipped)
    splits = {}
    for split in _SPLIT_NAMES:
        path = root / f"{split}.txt"
        if not path.is_file():
            continue
        splits[split] = []
        for line in _lines(path, skipped):
            fields = line.split() if line is not None else []
            if line is None or not fields:
                continue
            if len(fields) != 3 or fields[2] not in ("0", "1"):
                skipped["bad_line"] += 1
            elif fields[0] not in functions or fields[1] not in functions:
                skipped["missing_idx"] += 1
            else:
                record = {"code1": functions[fields[0]], "code2": functions[fields[1]],
                          "label": int(fields[2]), "idx1": fields[0], "idx2": fields[1]}
                if (fields[0], fields[1]) in kinds:
                    record["kind"] = kinds[fields[0], fields[1]]
                splits[split].append(record)
    return splits, ["not_clone", "clone"]


def _pair_types(path: Path, skipped: Counter) -> dict[tuple[str, str], str]:
    """``(idx1, idx2) -> clone type`` from ``pair_types.txt`` (``idx1<TAB>idx2<TAB>type``, e.g. T1,
    T2, VST3, ST3, MT3_WT3, non_clone), when the release has one: accuracy per type shows which
    syntactic-similarity bands a model (or a floor) gets right."""
    if not path.is_file():
        return {}
    kinds = {}
    for line in _lines(path, skipped):
        fields = line.split() if line is not None else []
        if len(fields) == 3:
            kinds[fields[0], fields[1]] = fields[2]
        elif fields:
            skipped["bad_line"] += 1
    return kinds


_FORMATS = {
    "devign": _Format("CodeXGLUE Devign jsonl", "train.jsonl/valid.jsonl/test.jsonl with func, target",
                      _has_jsonl, _read_devign),
    "bigclonebench": _Format("BigCloneBench", "data.jsonl (idx, func) plus train.txt/valid.txt/test.txt "
                             "(and optionally pair_types.txt)",
                             lambda root: (root / "data.jsonl").is_file()
                             and (root / "train.txt").is_file(), _read_bigclonebench),
    "poj104": _Format("POJ-104-style jsonl", "train.jsonl/valid.jsonl/test.jsonl with code, label",
                      _has_jsonl, _read_poj104),
    "codesearchnet": _Format("CodeSearchNet jsonl",
                             "train.jsonl[.gz]/valid/test with code(_tokens), docstring(_tokens)",
                             _has_jsonl, _read_codesearchnet),
    "atlas": _Format("ATLAS", "Training/, Eval/ (or Validation/), Testing/ with testMethods.txt "
                     "and assertLines.txt", lambda root: _atlas_dir(root, "train") is not None,
                     _read_atlas),
    "seq2seq_jsonl": _Format("seq2seq jsonl", "train.jsonl/valid.jsonl/test.jsonl with source, target",
                             _has_jsonl, _read_seq2seq_jsonl),
    "codexglue_translate": _Format("CodeXGLUE code-to-code translation (java->cs)",
                                   "train.java-cs.txt.java + train.java-cs.txt.cs (and valid., test.)",
                                   lambda root: "train" in _translation_files(root), _read_translation),
}
_TASK_FORMATS = {
    "defect": ("devign",),
    "clone": ("bigclonebench",),
    "classify": ("poj104",),
    "summarize": ("codesearchnet",),
    "search": ("codesearchnet",),
    "assert": ("atlas", "seq2seq_jsonl"),
    "translate": ("codexglue_translate",),
}
_TASK_FAMILY = {"defect": "classification", "clone": "pair", "classify": "classification",
                "summarize": "seq2seq", "search": "retrieval", "assert": "seq2seq",
                "translate": "seq2seq"}
