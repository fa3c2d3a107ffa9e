"""Turn user-fixable errors into one line on stderr and exit status 2 (no traceback wall)."""
from __future__ import annotations

import contextlib
import sys

from codereuse.errors import CodereuseError


@contextlib.contextmanager
def one_line_errors():
    try:
        yield
    except CodereuseError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
