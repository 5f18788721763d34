"""The one exception family the CLI turns into a friendly message.

Library code raises a `ModelzooError` subclass that says what failed, why, and how to fix it.
The CLI prints it as a panel and exits with the error's `exit_code`; any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

USAGE_EXIT = 2  # bad flags, configs, names: the user must change the command
RUNTIME_EXIT = 1  # the command was right but something failed while running it


class ModelzooError(Exception):
    """A failure with a message meant for the user and, optionally, the command that fixes it."""

    exit_code = RUNTIME_EXIT
    title = "error"

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\nFix: {self.fix}"


class UsageError(ModelzooError):
    """A bad flag or flag combination."""

    exit_code = USAGE_EXIT
    title = "usage error"


class ConfigError(ModelzooError):
    """An experiment config or dataset manifest that does not validate."""

    exit_code = USAGE_EXIT
    title = "config error"


class UnknownNameError(ModelzooError):
    """A model, recipe, config or dataset name that is not registered."""

    exit_code = USAGE_EXIT
    title = "unknown name"


class DataError(ModelzooError):
    """A dataset that is missing, corrupt or cannot be converted."""

    title = "data error"


class ChecksumError(DataError):
    """A file whose size or sha256 differs from its manifest."""

    title = "checksum mismatch"


class OfflineError(DataError):
    """No mirror could be reached."""

    title = "offline"


class DeviceError(UsageError):
    """A device or distribution request this machine cannot honour."""

    title = "device error"


class TrainingError(ModelzooError):
    """Training stopped for a reason the user must act on (NaN loss, lost worker)."""

    title = "training stopped"


class GateError(ModelzooError):
    """An evaluation that missed a `--fail-under` threshold."""

    title = "evaluation below threshold"


def suggest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean X?' for the closest choices, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def unknown_name(kind: str, name: str, choices: Iterable[str], list_command: str) -> UnknownNameError:
    """The error for a name that is not one of `choices`, with suggestions."""
    choices = sorted(choices)
    return UnknownNameError(
        f"Unknown {kind} {name!r}.{suggest(name, choices)} Known {kind}s: {', '.join(choices) or 'none'}.",
        fix=list_command,
    )
