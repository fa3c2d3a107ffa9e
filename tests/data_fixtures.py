"""Small source trees for the data tests: real-looking modules plus every kind of bad file."""
from __future__ import annotations

from pathlib import Path

GEOMETRY = '''"""Plane geometry helpers."""
import math


def distance(a, b):
    """Return the Euclidean distance between two points."""
    dx = a[0] - b[0]
    dy = a[1] - b[1]
    return math.sqrt(dx * dx + dy * dy)


class Polygon:
    """A closed polygon given by its vertices."""

    def __init__(self, points):
        self.points = list(points)

    def perimeter(self):
        """Sum the lengths of all edges of the polygon."""
        total = 0.0
        for i in range(len(self.points)):
            total += distance(self.points[i], self.points[(i + 1) % len(self.points)])
        return total

    class Builder:
        def add(self, point):
            self.points.append(point)
            return self

    async def refresh(self, source):
        self.points = await source.fetch()


if hasattr(math, "dist"):
    def fast_distance(a, b):
        return math.dist(a, b)


def clamp(value, low, high):
    def inner(v):
        return v
    if value < low:
        return low
    if value > high:
        return high
    return inner(value)
'''

TEXT_UTILS = '''def shorten(text, width):
    """Cut text to at most width characters, adding an ellipsis."""
    if len(text) <= width:
        return text
    return text[:width - 3] + "..."


def count_words(text):
    """Count the whitespace-separated words in a text."""
    words = text.split()
    return len(words)
'''

TEST_GEOMETRY = '''import unittest
from shapes.geometry import distance


class DistanceTest(unittest.TestCase):
    def test_zero(self):
        origin = (0, 0)
        self.assertEqual(distance(origin, origin), 0)

    def test_only_an_assertion(self):
        self.assertEqual(distance((1, 0), (0, 0)), 1)

    def test_unit(self):
        d = distance((0, 0), (1, 0))
        if d:
            self.assertTrue(d > 0)
        self.assertAlmostEqual(d, 1.0)

    def test_no_assert(self):
        distance((1, 1), (2, 2))

    def helper(self):
        self.assertEqual(1, 1)


def test_plain():
    d = distance((0, 0), (3, 4))
    assert d == 5
'''


def write_good_tree(root: Path) -> Path:
    """Two small packages and a test directory."""
    (root / "shapes").mkdir(parents=True)
    (root / "shapes" / "geometry.py").write_text(GEOMETRY)
    (root / "shapes" / "text_utils.py").write_text(TEXT_UTILS)
    (root / "shapes" / "tests").mkdir()
    (root / "shapes" / "tests" / "test_geometry.py").write_text(TEST_GEOMETRY)
    return root


def write_bad_tree(root: Path) -> Path:
    """The good tree plus one file of each kind the harvester must skip, and two huge functions."""
    write_good_tree(root)
    bad = root / "shapes" / "broken"
    bad.mkdir()
    (bad / "syntax_error.py").write_text("def broken(:\n    return 1\n")
    (bad / "binary.py").write_bytes(b"\x00\x01\x02ELF\x00" * 64)
    (bad / "latin1.py").write_bytes('def caf\xe9():\n    return "caf\xe9"\n'.encode("latin-1"))
    (bad / "empty.py").write_text("")
    # a 1 MB function (over the character limit) and a 450-line one (over the line limit)
    (bad / "huge.py").write_text(f'def huge():\n    return """{"x" * 1_000_000}"""\n\n\ndef small(a):\n    return a + 1\n')
    body = "".join(f"    x{i} = {i}\n" for i in range(450))
    (bad / "long.py").write_text(f"def long():\n{body}    return 0\n")
    return root
