"""Turn user-fixable errors into one line on stderr and a non-zero exit status (no traceback wall)."""
from __future__ import annotations

import contextlib
import sys

from codereuse.errors import CodereuseError, Interrupted


@contextlib.contextmanager
def one_line_errors():
    try:
        yield
    except Interrupted as stop:
        print(f"stopped: {stop}", file=sys.stderr)
        raise SystemExit(Interrupted.exit_status) from None
    except CodereuseError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
