"""Korean particles that follow the word before them ("지원센터를", "조합을"), instead of "을(를)"."""

from __future__ import annotations


def _has_final_consonant(word: str) -> bool:
    last = word.rstrip()[-1:] or " "
    return "가" <= last <= "힣" and (ord(last) - ord("가")) % 28 != 0


def eul_reul(word: str) -> str:
    """The word with its object particle: 조합을, 지원센터를."""
    return word + ("을" if _has_final_consonant(word) else "를")
