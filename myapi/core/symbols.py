"""Ticker symbols (SPEC §5): upper-case, matching SYMBOL_PATTERN; one validated field
for every payload that carries one (universe, vendor events, predictions)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,9}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def normalise_symbol(raw: str) -> str:
    """Symbols are upper-case; `aapl` is accepted as `AAPL`."""
    return raw.strip().upper()


def is_valid_symbol(symbol: str) -> bool:
    return bool(_SYMBOL_RE.match(symbol))


def _checked_symbol(value: str) -> str:
    value = normalise_symbol(value)
    if not is_valid_symbol(value):
        raise ValueError(f"{value!r} is not a valid symbol ({SYMBOL_PATTERN})")
    return value


# A request field holding a symbol: upper-cased, then checked against SYMBOL_PATTERN.
SymbolField = Annotated[str, Field(min_length=1, max_length=10), AfterValidator(_checked_symbol)]
