"""Grammars, parsers and the node-type vocabulary shared by the three supported languages.

The vocabulary is the union of the *named, visible* node kinds of the installed Python, Java and C
grammars, in grammar-id order, each kind prefixed with its language (``python:identifier``), after
two shared entries: ``<unknown>`` (a kind id the grammar does not list) and ``ERROR`` (tree-sitter's
error node). Anonymous tokens (punctuation, keywords, operators) are not graph nodes: their text
stays inside their parent's span. The vocabulary changes only with the grammar wheels, whose
versions are part of the graph cache key.
"""
from __future__ import annotations

import functools
from importlib.metadata import version

import tree_sitter
import tree_sitter_c
import tree_sitter_java
import tree_sitter_python

from codereuse.errors import ConfigError

_GRAMMARS = {"python": tree_sitter_python, "java": tree_sitter_java, "c": tree_sitter_c}
LANGUAGE_NAMES: tuple[str, ...] = tuple(_GRAMMARS)
UNKNOWN, ERROR = 0, 1
ERROR_KIND_ID = 65535  # tree-sitter's builtin error symbol, outside every grammar's kind table


def check_language(language: str) -> str:
    if language not in _GRAMMARS:
        raise ConfigError("language", language, allowed=", ".join(LANGUAGE_NAMES))
    return language


@functools.cache
def grammar(language: str) -> tree_sitter.Language:
    return tree_sitter.Language(_GRAMMARS[check_language(language)].language())


@functools.cache
def parser(language: str) -> tree_sitter.Parser:
    """One parser per language and process (parsers are cheap to reuse, not to create)."""
    return tree_sitter.Parser(grammar(language))


def _build_vocabulary() -> tuple[tuple[str, ...], dict[str, tuple[list[int], list[str]]]]:
    names = ["<unknown>", "ERROR"]
    tables: dict[str, tuple[list[int], list[str]]] = {}
    for language in LANGUAGE_NAMES:
        lang = grammar(language)
        ids: dict[str, int] = {}
        vocab_of_kind: list[int] = []
        name_of_kind: list[str] = []
        for kind in range(lang.node_kind_count):
            name = lang.node_kind_for_id(kind) or ""
            name_of_kind.append(name)
            if not (lang.node_kind_is_named(kind) and lang.node_kind_is_visible(kind)) or name == "ERROR":
                vocab_of_kind.append(ERROR if name == "ERROR" else UNKNOWN)
                continue
            if name not in ids:  # aliases give one name several kind ids: one vocabulary entry
                ids[name] = len(names)
                names.append(f"{language}:{name}")
            vocab_of_kind.append(ids[name])
        tables[language] = (vocab_of_kind, name_of_kind)
    return tuple(names), tables


NODE_TYPES, _KIND_TABLES = _build_vocabulary()


def num_node_types() -> int:
    return len(NODE_TYPES)


def kind_tables(language: str) -> tuple[list[int], list[str]]:
    """(vocabulary id, node type name) per grammar kind id of ``language``."""
    return _KIND_TABLES[check_language(language)]


def grammar_versions() -> dict[str, str]:
    return {name: version(f"tree-sitter-{name}") for name in LANGUAGE_NAMES} | {"tree-sitter": version("tree-sitter")}
