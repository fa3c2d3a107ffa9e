import ast
import builtins
import keyword
import math
import random
import sysconfig
import textwrap
from pathlib import Path

import pytest

from codereuse.data.rewrite import REWRITE_KINDS, rename_identifiers, rewrite_function

STDLIB = Path(sysconfig.get_paths()["stdlib"])
VOCAB = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lam", "omega",
         "total", "buffer", "node", "parts", "entry", "record", "cursor", "width", "offset", "acc"]


def parse_function(source: str) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(source)).body[0]


def call(func: ast.AST, args: tuple, env: dict | None = None):
    """Run func on args in a fresh namespace; the outcome is the result or the exception type."""
    namespace = dict(env or {})
    exec(compile(ast.unparse(func), "<test>", "exec"), namespace)
    try:
        return namespace[func.name](*args)
    except Exception as error:  # the same failure on both sides is the same behaviour
        return type(error)


def assert_kind_preserves_behaviour(source: str, kind: str, inputs: list[tuple], env=None) -> None:
    """Across many seeds: ``kind`` gets applied, and every rewrite behaves like the original."""
    func = parse_function(source)
    expected = [call(func, args, env) for args in inputs]
    applied = 0
    for seed in range(40):
        new, kinds = rewrite_function(func, random.Random(seed), VOCAB)
        assert kinds[0] == "rename" and set(kinds) <= set(REWRITE_KINDS)
        applied += kind in kinds
        assert [call(new, args, env) for args in inputs] == expected, ast.unparse(new)
    assert applied, f"{kind} never applied"


def kinds_over_seeds(source: str, seeds: int = 40) -> set[str]:
    func = parse_function(source)
    return {k for seed in range(seeds) for k in rewrite_function(func, random.Random(seed), VOCAB)[1]}


def test_if_else_swap():
    assert_kind_preserves_behaviour("""
        def classify(x, items):
            if x in items:
                label = "member"
            else:
                label = "other"
            if not x:
                label += "!"
            if x is None:
                return label
            else:
                return label + str(x)
    """, "if_else_swap", [(1, [1]), (None, []), (0, [0]), (5, []), (float("nan"), [])])


def test_loop_to_comprehension():
    assert_kind_preserves_behaviour("""
        def evens_squared(numbers):
            result = []
            for n in numbers:
                if n % 2 == 0:
                    result.append(n * n)
            pairs = []
            for a, b in zip(numbers, numbers[1:]):
                pairs.append(a - b)
            return result, pairs
    """, "loop_to_comprehension", [([],), ([1, 2, 3, 4],), ([7, -2, 0],), (["x"],)])


def test_comprehension_to_loop():
    assert_kind_preserves_behaviour("""
        def lengths(words):
            sizes = [len(w) for w in words if w]
            upper = [s.upper() for s in words]
            return sizes, upper
    """, "comprehension_to_loop", [(["ab", "", "c"],), ([],), ([1],)])


@pytest.mark.parametrize("kind", ["augassign_expand", "augassign_contract"])
def test_augassign_both_directions(kind):
    assert_kind_preserves_behaviour("""
        def count_and_join(items):
            count = 0
            text = ""
            for item in items:
                count += 1
                text += f"{item},"
                count = count * 2
            return count, text
    """, kind, [([],), ([1, 2, 3],), (["a"],)])


def test_compare_flip():
    assert_kind_preserves_behaviour("""
        def clamp(x, low, high):
            if x < low:
                return low
            if high <= x:
                return high
            return x == low
    """, "compare_flip", [(5, 0, 10), (-1, 0, 10), (11, 0, 10), (0, 0, 10), (float("nan"), 0, 1)])


def test_unsafe_patterns_are_left_alone():
    # An elif chain, an in-place += on a parameter (list.__iadd__ mutates the caller's list),
    # a loop variable read after the loop, a list built inside try or read by a closure,
    # comparisons of calls (evaluation order): none of these may be rewritten.
    kinds = kinds_over_seeds("""
        def risky(acc, more, it, read):
            acc += more
            if acc:
                acc = acc
            elif more:
                acc = more
            out = []
            for i in it:
                out.append(i)
            try:
                got = []
                for j in it:
                    got.append(j)
            except ValueError:
                got = None
            seen = []
            for k in it:
                seen.append(read(lambda: seen))
            return acc, out, i, got, read() < read()
    """)
    assert kinds == {"rename"}


def test_rename_keeps_globals_builtins_attributes_keywords_and_nested_params():
    source = """
        def area(radius, scale=2):
            global HITS
            HITS = 1
            value = math.pi * radius ** 2
            helper = lambda k: k * scale
            def inner(step):
                nonlocal value
                value = value + step
            inner(step=1)
            try:
                raise ValueError(value)
            except ValueError as err:
                msg = str(err)
            squares = [v * v for v in range(3)]
            if (n := len(squares)) > 2:
                value += n
            return helper(value), msg, sorted(squares, key=abs), dict(x=HITS)
    """
    func = parse_function(source)
    vocabulary = ["class", "len", "math", "value", "9x", "__init__", "HITS", "step"] + VOCAB
    for seed in range(10):
        new = rename_identifiers(func, random.Random(seed), vocabulary)
        text = ast.unparse(new)
        for kept in ("global HITS", "math.pi", "lambda k: k *", "def inner(step)", "inner(step=1)",
                     "key=abs", "dict(x=HITS)", "len(", "sorted(", "range(3)", "ValueError"):
            assert kept in text
        args = new.args.args
        renamed = {new.name, *(a.arg for a in args)}
        assert renamed <= set(VOCAB) and len(renamed) == 3
        assert f"nonlocal {args[0].arg}" not in text  # nonlocal follows ``value``, not ``radius``
        assert "value" not in text and "squares" not in text and "err" not in text
        for name in {n.id for n in ast.walk(new) if isinstance(n, ast.Name)}:
            assert not keyword.iskeyword(name)
        env = {"math": math}
        assert call(new, (1.5,), env) == call(func, (1.5,), env)


def test_renamed_names_never_collide_and_fall_back_when_vocabulary_runs_dry():
    func = parse_function("""
        def f(a, b):
            c = a + b
            v1 = c * 2
            return [a, b, c, v1]
    """)
    new = rename_identifiers(func, random.Random(0), ["alpha"])
    params = [a.arg for a in new.args.args]
    locals_ = sorted({n.id for n in ast.walk(new) if isinstance(n, ast.Name)} - set(params))
    names = [new.name, *params, *locals_]
    assert len(set(names)) == 5 and "alpha" in names and "v1" not in names  # v1 was taken
    assert all(name == "alpha" or name.startswith("v") for name in names)
    assert call(new, (2, 3)) == [2, 3, 5, 10]


def test_rename_leaves_locals_alone_when_the_function_inspects_them():
    func = parse_function("""
        def snapshot(a):
            b = a * 2
            return sorted(locals().items())
    """)
    new = rename_identifiers(func, random.Random(0), VOCAB)
    assert new.name != "snapshot"
    assert call(new, (3,)) == call(func, (3,)) == [("a", 3), ("b", 6)]


def test_recursion_follows_the_rename_but_method_calls_do_not():
    func = parse_function("""
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
    """)
    new, _ = rewrite_function(func, random.Random(3), VOCAB)
    assert "fact" not in ast.unparse(new)
    assert call(new, (5,)) == 120

    keyword_recursion = parse_function("""
        def total(n, acc=0):
            return acc if n == 0 else total(n - 1, acc=acc + n)
    """)
    new = rename_identifiers(keyword_recursion, random.Random(0), VOCAB)
    assert [a.arg for a in new.args.args][1] == "acc"  # still matches the keyword in the call
    assert call(new, (4,)) == 10

    method = parse_function("""
        def copy(self):
            return copy(self)
    """)
    text = ast.unparse(rename_identifiers(method, random.Random(0), VOCAB))
    assert text.count("copy") == 1 and text.startswith("def ")  # the body still calls copy()


def test_input_untouched_deterministic_and_seed_dependent():
    func = parse_function("""
        def f(xs, limit):
            out = []
            for x in xs:
                if x < limit:
                    out.append(x)
            return out
    """)
    before = ast.dump(func)
    first = [ast.unparse(rewrite_function(func, random.Random(s), VOCAB)[0]) for s in range(8)]
    again = [ast.unparse(rewrite_function(func, random.Random(s), VOCAB)[0]) for s in range(8)]
    assert ast.dump(func) == before
    assert first == again and len(set(first)) > 4
    assert rewrite_function(func, random.Random(0), VOCAB, max_rewrites=0)[1] == ["rename"]


def keyword_adapter(func, old_names: list[str], new_names: list[str]):
    """Let callers keep passing the original parameter names as keywords."""
    renamed = dict(zip(old_names, new_names))

    def adapted(*args, **kwargs):
        return func(*args, **{renamed.get(k, k): v for k, v in kwargs.items()})
    return adapted


def rewritten_module(path: Path, seed: int, vocabulary: list[str]) -> tuple[dict, set[str]]:
    """Execute a standard-library module with every undecorated function and method rewritten; the
    old name stays bound (through a keyword adapter) so the rest of the module still finds it."""
    rng, applied = random.Random(seed), set()

    def transform(body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef) and not stmt.decorator_list:
                new, kinds = rewrite_function(stmt, rng, vocabulary)
                applied.update(kinds)
                old_names = [a.arg for a in stmt.args.args + stmt.args.kwonlyargs]
                new_names = [a.arg for a in new.args.args + new.args.kwonlyargs]
                alias = f"{stmt.name} = _adapt({new.name}, {old_names!r}, {new_names!r})"
                out += [new, ast.parse(alias).body[0]]
            else:
                if isinstance(stmt, ast.ClassDef):
                    stmt.body = transform(stmt.body)
                out.append(stmt)
        return out

    tree = ast.parse(path.read_text(encoding="utf-8"))
    # a new function name is bound at module level: it must not shadow one of the module's names
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    vocabulary = [word for word in vocabulary if word not in taken]
    tree.body = transform(tree.body)
    namespace = {"__name__": f"rewritten_{path.stem}", "_adapt": keyword_adapter}
    exec(compile(ast.fix_missing_locations(tree), str(path), "exec"), namespace)
    return namespace, applied


def test_rewritten_standard_library_modules_behave_the_same():
    import colorsys

    texts = ["The quick brown fox jumps over the lazy dog. " * 3,
             "  indented\n\tlines with\ttabs\n\n  and a-very-long-hyphenated-word-here ok",
             "short", ""]
    vocabulary = sorted({n.id for n in ast.walk(ast.parse((STDLIB / "email" / "utils.py").read_text()))
                         if isinstance(n, ast.Name)})
    colours = [(r / 4, g / 4, b / 4) for r in range(5) for g in range(5) for b in range(5)]
    applied = set()
    for seed in range(4):
        tw, kinds = rewritten_module(STDLIB / "textwrap.py", seed, vocabulary)
        applied |= kinds
        for text in texts:
            for width in (5, 12, 40):
                assert tw["wrap"](text, width) == textwrap.wrap(text, width)
                assert tw["fill"](text, width, break_long_words=False) == textwrap.fill(
                    text, width, break_long_words=False)
                assert tw["shorten"](text, width + 5) == textwrap.shorten(text, width + 5)
            assert tw["dedent"](text) == textwrap.dedent(text)
            assert tw["indent"](text, "> ") == textwrap.indent(text, "> ")
        cs, kinds = rewritten_module(STDLIB / "colorsys.py", seed, vocabulary)
        applied |= kinds
        for name in ("rgb_to_yiq", "rgb_to_hls", "rgb_to_hsv"):
            back = name.replace("rgb_to_", "") + "_to_rgb"
            for colour in colours:
                converted = getattr(colorsys, name)(*colour)
                assert cs[name](*colour) == converted
                assert cs[back](*converted) == getattr(colorsys, back)(*converted)
    assert {"rename", "if_else_swap", "compare_flip"} <= applied


def test_a_few_hundred_standard_library_functions_compile_and_are_deterministic():
    files = [STDLIB / "textwrap.py", STDLIB / "string.py", *sorted((STDLIB / "json").glob("*.py")),
             *sorted((STDLIB / "email").glob("*.py"))]
    funcs, vocabulary = [], set()
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs += [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        vocabulary |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    funcs, vocabulary = funcs[::2], sorted(vocabulary)
    assert len(funcs) > 250
    reserved = set(dir(builtins)) | set(keyword.kwlist)
    applied = set()
    for i, func in enumerate(funcs):
        new, kinds = rewrite_function(func, random.Random(i), vocabulary)
        applied |= set(kinds)
        text = ast.unparse(new)
        assert new.name != func.name and new.name not in reserved
        assert ast.unparse(rewrite_function(func, random.Random(i), vocabulary)[0]) == text
        compile(text, "<rewritten>", "exec")
        compile(ast.Module([new], []), "<rewritten-ast>", "exec")  # every node has a location
    assert len(applied) >= 5


def test_for_to_while_and_back():
    source = """
        def running(xs, n):
            out = 0
            for i in range(n):
                if i >= len(xs):
                    break
                out = out * 3 + xs[i]
            total = 0
            k = 1
            while k < 4:
                total += k * out
                k += 1
            return out, total
    """
    inputs = [([1, 2, 3], 3), ([], 0), ([5], 4), ([2, 2], -1)]
    assert_kind_preserves_behaviour(source, "for_to_while", inputs)
    assert_kind_preserves_behaviour(source, "while_to_for", inputs)


def test_loops_whose_counter_or_bound_is_observable_are_left_alone():
    kinds = kinds_over_seeds("""
        def unsafe(xs, n):
            for i in range(n):
                n -= 1
            for j in range(3):
                if j:
                    continue
                xs.append(j)
            for k in range(2):
                k = k * 2
            m = 0
            while m < len(xs):
                xs.pop()
                m += 1
            return i, n, m
    """)
    assert not kinds & {"for_to_while", "while_to_for"}


@pytest.mark.parametrize("kind", ["guard_to_else", "else_to_guard"])
def test_guard_clause_and_else_branch(kind):
    assert_kind_preserves_behaviour("""
        def describe(x):
            if x is None:
                return "none"
            if x < 0:
                raise ValueError(x)
            else:
                label = "pos"
            for ch in str(x):
                if ch == "0":
                    continue
                label += ch
            return label
    """, kind, [(None,), (-3,), (0,), (105,), (7.5,)])


def test_swap_independent_statements():
    assert_kind_preserves_behaviour("""
        def spread(point, scale):
            x = point[0] * scale
            y = point[1] - scale
            name = str(scale)
            size = len(point)
            return x, y, name, size
    """, "swap_statements", [((1, 2), 3), ((0, 0, 0), -1), ((1,), 2)])
    # dependent, calling or inside try: never swapped
    kinds = kinds_over_seeds("""
        def dependent(items, log):
            a = len(items)
            b = a + 1
            c = log(items)
            d = log(b)
            try:
                e = items[0]
                f = items[1]
            except IndexError:
                e = f = None
            return b, c, d, e, f
    """)
    assert "swap_statements" not in kinds


@pytest.mark.parametrize("kind", ["ternary_to_if", "if_to_ternary"])
def test_conditional_expression_and_if(kind):
    assert_kind_preserves_behaviour("""
        def sign(x, flag):
            word = "neg" if x < 0 else "non-neg"
            if flag:
                scale = 2
            else:
                scale = 3
            if x == 0:
                return word
            else:
                return word * scale
    """, kind, [(-1, True), (0, False), (4, False), (2, True)])


def test_every_structural_kind_is_documented_and_inverse_pairs_never_undo_each_other():
    from codereuse.data.rewrite import STRUCTURAL_KINDS
    assert REWRITE_KINDS == ("rename", *STRUCTURAL_KINDS) and len(STRUCTURAL_KINDS) == 13
    func = parse_function("""
        def f(n):
            out = []
            for i in range(n):
                out.append(i)
            return out
    """)
    for seed in range(30):
        _, kinds = rewrite_function(func, random.Random(seed), VOCAB, max_rewrites=5)
        assert not {"for_to_while", "while_to_for"} <= set(kinds)
        assert not {"loop_to_comprehension", "comprehension_to_loop"} <= set(kinds)
