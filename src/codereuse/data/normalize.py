"""Text-level helpers shared by the builders: near-duplicate keys, docstring handling, summaries.

The near-duplicate key tokenises *printed* code (``ast.unparse`` output, so layout is already
canonical) with one regular expression instead of :mod:`tokenize`, which is an order of magnitude
slower on the ~20 MB the standard library yields.
"""
from __future__ import annotations

import ast
import hashlib
import keyword
import re

_TOKEN = re.compile(
    r"""(?P<str>[rbufRBUF]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"|(?P<num>\d[\w.]*|\.\d[\w.]*)"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<op>[^\s\w])",
)
_GROUPS = ("str", "num", "name", "op")
_KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "resp.")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def code_tokens(code: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of printed code; kind is str, num, name, keyword or op."""
    tokens = []
    for groups in _TOKEN.findall(code):
        i = next(i for i, text in enumerate(groups) if text)
        kind = "keyword" if i == 2 and groups[2] in _KEYWORDS else _GROUPS[i]
        tokens.append((kind, groups[i]))
    return tokens


def near_duplicate_key(code: str, has_docstring: bool = False) -> str:
    """Hash of the token stream with identifiers and literals abstracted.

    Two functions that differ only in names, strings or numbers get the same key, so a renamed
    copy of a training function cannot hide in the test split. With ``has_docstring`` the
    docstring is left out, so a copy that only lost or gained its docstring matches too.
    """
    tokens = _TOKEN.findall(code)  # (str, num, name, op) tuples, one field set: fast, in C
    if has_docstring:
        tokens = _without_docstring(tokens)
    stream = " ".join("S" if s else "N" if n else (w if w in _KEYWORDS else "I") if w else o
                      for s, n, w, o in tokens)
    return hashlib.blake2b(stream.encode(), digest_size=12).hexdigest()


def _without_docstring(tokens: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """Drop the string right after the colon that ends the ``def`` line of printed code."""
    depth, in_signature = 0, False
    for i, (_, _, name, op) in enumerate(tokens):
        if name == "def" and depth == 0:
            in_signature = True
        elif op and op in "([{":
            depth += 1
        elif op and op in ")]}":
            depth -= 1
        elif in_signature and depth == 0 and op == ":":
            if i + 1 < len(tokens) and tokens[i + 1][0]:
                return tokens[: i + 1] + tokens[i + 2:]
            break
    return tokens


def strip_docstring(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Remove the docstring statement from ``func`` in place; False if nothing would remain."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        if len(body) == 1:
            return False
        del body[0]
    return True


def first_sentence(docstring: str) -> str:
    """First sentence of a docstring's first paragraph, whitespace collapsed."""
    paragraph = " ".join(docstring.strip().split("\n\n", 1)[0].split())
    for match in _SENTENCE_END.finditer(paragraph):
        head = paragraph[: match.end()]
        if not head.lower().endswith(_ABBREVIATIONS):
            return head
    return paragraph
