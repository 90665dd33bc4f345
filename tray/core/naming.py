"""How names people type and read are compared: number-aware order, and the near misses of a typo.

Part of the vocabulary every room shares (like `errors` and `credentials`): it imports nothing of sso-tray,
so the command line, the completion, the menu and the finder all sort and suggest the same way.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """A sort key that reads runs of digits as numbers and ignores case: `network-7` before `network-17`,
    `prod-51` before `prod-151`. Equal keys (`Dev` and `dev`, `07` and `7`) fall back to the text itself,
    so the order is the same on every run."""
    parts = _DIGITS.split(text.casefold())
    # split() puts text at even positions and digits at odd ones, so equal positions always compare alike
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts)), text


def close_matches(word: str, choices, limit: int = 3) -> list[str]:
    """The choices a typo of `word` most likely meant (case-insensitive), best first."""
    import difflib

    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    return [by_folded[m] for m in difflib.get_close_matches(word.casefold(), list(by_folded), n=limit, cutoff=0.6)]


def did_you_mean(word: str, choices) -> str:
    """` (did you mean a or b?)` for an error message, or "" when nothing is close."""
    found = close_matches(word, choices)
    if not found:
        return ""
    listed = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} or {found[-1]}"
    return f" (did you mean {listed}?)"


_WORD_START = re.compile(r"(?:^|[^0-9a-z])([0-9a-z])")


def match_rank(terms: list[str], fields: list[str]) -> tuple[int, int] | None:
    """How well a search (its casefolded words, `terms`) matches a thing known by several `fields` (a
    profile's name, account name, account id, role name): 0 when the whole search is one of the fields,
    else the weakest of its terms' best matches — 1 a field starts with it, 2 one of a field's words does
    (`51` in `prod-51`, not in `prod-151`), 3 it is inside a field, 4 its letters are, in order (`pua` in
    `PowerUserAccess`). Among equals the better sum of all the terms' matches wins (for `prod 51`,
    prod-151 before preprod-51), so the rank is the pair (weakest, sum). None when a term does not match
    at all. The finder page ranks the same way (tray/ui/finder/static/finder.js), without the last kind."""
    folded = [f.casefold() for f in fields if f]
    if not terms or " ".join(terms) in folded:
        return 0, 0
    ranks = [min((_term_rank(term, field) for field in folded), default=5) for term in terms]
    if max(ranks) > 4:
        return None
    return max(ranks), sum(ranks)


def _term_rank(term: str, field: str) -> int:
    at = field.find(term)
    if at == 0:
        return 1
    if at > 0:
        starts = (m.start(1) for m in _WORD_START.finditer(field))
        return 2 if any(field.startswith(term, s) for s in starts) else 3
    return 4 if _in_order(term, field) else 5


def _in_order(term: str, text: str) -> bool:
    position = 0
    for char in term:
        position = text.find(char, position) + 1
        if not position:
            return False
    return True


def ranked(search: str, things: dict[str, list[str]]) -> list[str]:
    """The keys of `things` (a name → the fields it is known by) that match `search`, best first, then in
    number-aware order of the name."""
    terms = search.casefold().split()
    scored = [(rank, name) for name, fields in things.items() if (rank := match_rank(terms, fields)) is not None]
    return [name for _, name in sorted(scored, key=lambda rn: (rn[0], natural_key(rn[1])))]
