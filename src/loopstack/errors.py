"""Errors that reach users: each carries one clear, actionable line."""

from __future__ import annotations


class LoopstackError(Exception):
    """Base for every error we expect a user to read. The CLI prints ``str(err)`` and exits 1."""

    exit_code = 1


class ConfigError(LoopstackError):
    """A setting is missing or malformed."""


class StoreUnavailable(LoopstackError):
    """The database cannot be reached or opened."""


class NotFound(LoopstackError):
    """A named thing (prompt, version, label, dataset, run) does not exist."""


class InvalidInput(LoopstackError):
    """A file, payload or argument is malformed; the message names the place."""
