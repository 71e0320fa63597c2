"""``chanwatch`` sub-commands over the archive (search, stats, export, import, web, similar).

Each tool is a module with ``TOOL = Tool(name, help, add_arguments, run)``; ``TOOLS`` lists
them and bot/cli.py adds each to its parser. They need only the database (``--db`` or the
``DATA_DIR`` / ``DATABASE_PATH`` settings), never the Telegram credentials.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# module names under bot.cli_tools, each defining TOOL
TOOL_MODULES = ("search", "export", "importer", "stats", "web", "similar", "verify", "backup",
                "restore", "vacuum")


@dataclass(frozen=True)
class Tool:
    """One sub-command: its name, one-line help, arguments, and what it runs (exit code)."""

    name: str
    help: str
    add_arguments: Callable[[Any], None]
    run: Callable[[Any], int]


def tools() -> list[Tool]:
    """Every archive tool (imported on use: each pulls in its own libraries)."""
    return [importlib.import_module(f"bot.cli_tools.{m}").TOOL for m in TOOL_MODULES]
