"""`ui.info` / `ui.warn` for messages that hold paths and URLs: Rich markup is escaped, so a
folder named `run[1]` prints as it is (unescaped it would vanish or raise a MarkupError)."""

from __future__ import annotations

from rich.markup import escape

from modelzoo import ui

__all__ = ["escape", "info", "warn"]


def info(message: str) -> None:
    ui.info(escape(message))


def warn(message: str) -> None:
    ui.warn(escape(message))
