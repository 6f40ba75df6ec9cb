"""Errors services raise; routes turn them into pages or JSON. Nothing is written when raised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FormError(Exception):
    """Field name → Korean message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class NotFoundError(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class ForbiddenError(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class ConflictError(Exception):
    """The client's version is stale; ``current`` is what is stored now."""

    CONFLICT_MESSAGE = "다른 사용자가 먼저 변경했습니다. 최신 내용을 확인하세요."

    def __init__(self, current: Any, message: str = CONFLICT_MESSAGE):
        self.current = current
        self.message = message
        super().__init__(message)
