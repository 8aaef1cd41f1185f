"""Errors raised early, with messages a planner can act on, in Chinese and English.

Every error a user can cause or meet carries one sentence per language: ``str(exc)`` is the
English one (logs, tests), :meth:`UserFacing.text` gives the page's language.
"""

from __future__ import annotations


class UserFacing:
    """Mix-in: an English message (``str``) and an optional Chinese one (``zh``)."""

    zh: str | None = None

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang`` ('zh' or 'en'); English when no Chinese one was given."""
        if lang == "zh" and self.zh:
            return self.zh
        return str(self)


class InputError(UserFacing, ValueError):
    """An input file or argument that cannot be used at all (command line exit code 2)."""

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh


class StoreError(UserFacing, RuntimeError):
    """The store cannot be reached or cannot take a save (down, wrong password, disk full,
    damaged file). The message names no secret. Command line exit code 2."""

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh


def message(exc: BaseException, lang: str = "zh") -> str:
    """The user-facing sentence of ``exc`` in ``lang`` (its ``str`` for other exceptions)."""
    if isinstance(exc, UserFacing):
        return exc.text(lang)
    return str(exc)
