"""Errors the user can fix. Entry points print them as one line (no traceback) and exit 2."""


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
