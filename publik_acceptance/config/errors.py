"""Errors that end a run with one clear line instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """Bad input: names the file, the key path inside it and what is wrong."""

    def __init__(self, file: str | Path, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"
