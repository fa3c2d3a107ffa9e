import ast
import random
import sysconfig
import textwrap
from pathlib import Path

import pytest

from codereuse.data.mutate import DEFAULT_WEIGHTS, MUTATION_KINDS, mutate_function


def parse_function(source: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(source)).body[0]


def only(kind: str) -> dict[str, float]:
    return {kind: 1.0}


def run(func: ast.AST, *args):
    namespace: dict = {}
    exec(compile(ast.unparse(func), "<test>", "exec"), namespace)
    return namespace[func.name](*args)


SAMPLE = """
def window_sum(values, width):
    total = 0
    for i in range(len(values) - width + 1):
        if not values[i] < 0:
            total += values[i] * width
    return divmod(total, width)
"""


def test_api_constants():
    assert set(DEFAULT_WEIGHTS) == set(MUTATION_KINDS)
    visible = ("negate_condition", "arithmetic_swap", "off_by_one")
    assert all(DEFAULT_WEIGHTS[k] > DEFAULT_WEIGHTS["comparison_swap"] for k in visible)


def test_every_kind_differs_compiles_and_leaves_input_untouched():
    func = parse_function(SAMPLE)
    before = ast.dump(func)
    for kind in MUTATION_KINDS:
        mutant, got = mutate_function(func, random.Random(0), only(kind))
        assert got == kind
        text = ast.unparse(mutant)
        assert text != ast.unparse(func)
        compile(text, "<mutant>", "exec")
        compile(ast.Module([mutant], []), "<mutant-ast>", "exec")  # locations are filled in
    assert ast.dump(func) == before


@pytest.mark.parametrize("kind, before, after", [
    ("negate_condition", "if not values[i] < 0:", "if values[i] < 0:"),  # removes an existing not
    ("comparison_swap", "values[i] < 0", "values[i] <= 0"),
    ("arithmetic_swap", "values[i] * width", "values[i] / width"),
    ("swap_arguments", "divmod(total, width)", "divmod(width, total)"),
])
def test_kinds_make_the_expected_change(kind, before, after):
    func = parse_function(SAMPLE)
    texts = {ast.unparse(mutate_function(func, random.Random(seed), only(kind))[0])
             for seed in range(40)}
    assert any(after in t and before not in t for t in texts)


def test_off_by_one_moves_one_int_constant_by_one():
    func = parse_function("""
        def last(items, n):
            return items[-1] + items[n:2] + [True]
    """)
    seen = set()
    for seed in range(60):
        mutant, _ = mutate_function(func, random.Random(seed), only("off_by_one"))
        seen.add(ast.unparse(mutant).split("return ")[1])
    # -1 -> -2 or -0 (never "--1"), 2 -> 1 or 3; the bool True is never touched.
    assert seen == {"items[-2] + items[n:2] + [True]", "items[-0] + items[n:2] + [True]",
                    "items[-1] + items[n:1] + [True]", "items[-1] + items[n:3] + [True]"}


def test_new_negative_constant_keeps_its_precedence():
    func = parse_function("""
        def f(x):
            return 0 ** x
    """)
    for seed in range(20):
        mutant, _ = mutate_function(func, random.Random(seed), only("off_by_one"))
        assert ast.unparse(mutant) in ("def f(x):\n    return 1 ** x", "def f(x):\n    return (-1) ** x")


def test_string_and_sequence_operations_are_not_arithmetic_sites():
    func = parse_function("""
        def label(name, n):
            text = 'id-' + name
            text += f'{n}'
            return '%s!' % text, [0] * n, (name,) + ()
    """)
    assert mutate_function(func, random.Random(0), only("arithmetic_swap")) is None


def test_no_site_returns_none():
    func = parse_function("""
        def get(self):
            return self._value
    """)
    assert mutate_function(func, random.Random(0)) is None


def test_wrong_variable_only_uses_names_bound_at_that_point():
    func = parse_function("""
        def pick(a, flag):
            if flag:
                late = a
            for item in a:
                last = item
            b = a
            return b
    """)
    for seed in range(80):
        mutant, _ = mutate_function(func, random.Random(seed), only("wrong_variable"))
        # late / item / last are not certainly bound after their block, so they never leak out.
        ret = mutant.body[-1].value.id
        assert ret in ("a", "flag", "b")
        for args in (([1, 2], True), ([], False), ([3], False)):
            try:
                run(mutant, *args)
            except NameError:  # includes UnboundLocalError
                raise
            except Exception:  # a wrong variable may well cause a TypeError: that is the bug
                pass


def test_wrong_variable_ignores_globals_and_declared_names():
    func = parse_function("""
        def f(x):
            global counter
            counter = x
            return len(counter)
    """)
    for seed in range(20):
        result = mutate_function(func, random.Random(seed), only("wrong_variable"))
        assert result is None or "counter" not in ast.unparse(result[0]).split("return")[1]


def test_deterministic_and_seed_dependent():
    func = parse_function(SAMPLE)
    first = [ast.unparse(mutate_function(func, random.Random(s))[0]) for s in range(10)]
    again = [ast.unparse(mutate_function(func, random.Random(s))[0]) for s in range(10)]
    assert first == again
    assert len(set(first)) > 3


def test_weights_select_kinds_and_unknown_kind_is_rejected():
    func = parse_function(SAMPLE)
    kinds = {mutate_function(func, random.Random(s), {"off_by_one": 1, "swap_arguments": 1})[1]
             for s in range(30)}
    assert kinds == {"off_by_one", "swap_arguments"}
    with pytest.raises(ValueError, match="unknown mutation kinds"):
        mutate_function(func, random.Random(0), {"delete_line": 1.0})


def test_nested_function_with_nonlocal_that_cannot_compile_alone_gives_none():
    outer = parse_function("""
        def outer():
            n = 0
            def bump(step):
                nonlocal n
                n = n + step
            return bump
    """)
    inner = outer.body[1]
    assert mutate_function(inner, random.Random(0)) is None


def test_standard_library_mutants_compile_and_are_deterministic():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    funcs = []
    for path in [stdlib / "textwrap.py", stdlib / "string.py", *sorted((stdlib / "json").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs += [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert len(funcs) > 60
    kinds = set()
    for i, func in enumerate(funcs):
        result = mutate_function(func, random.Random(i))
        if result is None:
            continue
        mutant, kind = result
        kinds.add(kind)
        text = ast.unparse(mutant)
        compile(text, "<mutant>", "exec")
        assert text != ast.unparse(func)
        assert ast.unparse(mutate_function(func, random.Random(i))[0]) == text
    assert len(kinds) >= 5


def test_mutations_that_could_be_equivalent_are_never_made():
    # commutative calls, neutral constants (x + 0, x * 1, 0 * x), x & x: no mutant could differ
    func = parse_function("""
        def f(a, b, s):
            m = max(a, b) + min(a, b) + math.gcd(a, b)
            u = s.union(b)
            return m + 0, a * 1, 0 * b, a ** 1, a & a, m
    """)
    for seed in range(60):
        result = mutate_function(func, random.Random(seed), {"swap_arguments": 1.0, "arithmetic_swap": 1.0})
        if result is None:
            continue
        text = ast.unparse(result[0])
        for kept in ("max(a, b)", "min(a, b)", "gcd(a, b)", "m + 0", "a * 1", "0 * b", "a ** 1", "a & a"):
            assert kept in text, text
    # the only arithmetic sites left are the two + between the calls
    changed = {ast.unparse(mutate_function(func, random.Random(s), only("arithmetic_swap"))[0]) for s in range(30)}
    assert len(changed) == 2
