"""Errors the user can fix. Entry points print them as one line (no traceback) and exit 2."""
from __future__ import annotations

import contextlib
import sys


class CodereuseError(Exception):
    """Base class of every user-facing error."""


class ConfigError(CodereuseError, ValueError):
    """A config value is wrong: the message names the key, the bad value and the allowed values."""

    def __init__(self, key: str, value: object, allowed: object = None, hint: str = "") -> None:
        message = f"{key}={value!r} is not valid"
        if allowed is not None:
            message += f"; allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class BackboneError(CodereuseError, OSError):
    """A backbone cannot be loaded (offline hub id, missing directory, unsupported architecture)."""


class Interrupted(CodereuseError):
    """The run was told to stop (SIGTERM) and stopped cleanly; the message says how to resume."""

    exit_status = 143  # 128 + SIGTERM, what shells and schedulers expect of a terminated job


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when the message is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextlib.contextmanager
def one_line_errors():
    """Turn user-fixable errors into one line on stderr and a non-zero exit status (no traceback wall)."""
    try:
        yield
    except Interrupted as stop:
        print(f"stopped: {stop}", file=sys.stderr)
        raise SystemExit(Interrupted.exit_status) from None
    except CodereuseError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
