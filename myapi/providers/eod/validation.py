"""What counts as a price. Shared by every EOD provider so that no provider can hand a
NaN, an infinity, a zero or a negative number to settlement.

A value is a price only if it converts exactly to a finite `Decimal` greater than zero
that fits the `numeric(18,6)` column; it is then quantized to 6 decimal places. Floats
(pandas/numpy cells) go through their shortest repr, never through binary expansion, so
`189.98` stays `189.980000`.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

PRICE_PLACES = 6
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)  # Decimal("0.000001")
# numeric(18,6): at most 12 digits before the decimal point.
PRICE_LIMIT = Decimal(10) ** (18 - PRICE_PLACES)


class InvalidPriceError(ValueError):
    """The value is not a usable price; the message says why (it ends up in
    `EodBatch.errors`)."""


def to_price(value: object) -> Decimal:
    """`value` as a positive, finite Decimal quantized to 6 places, or InvalidPriceError."""
    number = _to_decimal(value)
    if not number.is_finite():
        raise InvalidPriceError(f"non-finite value {value!r}")
    if number <= 0:
        raise InvalidPriceError(f"non-positive value {value!r}")
    quantized = number.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
    if quantized <= 0:
        raise InvalidPriceError(f"value {value!r} rounds to zero at {PRICE_PLACES} places")
    if quantized >= PRICE_LIMIT:
        raise InvalidPriceError(f"value {value!r} does not fit numeric(18,{PRICE_PLACES})")
    return quantized


def price_or_none(value: object) -> Decimal | None:
    """`to_price(value)`, or None when the value is not a price."""
    try:
        return to_price(value)
    except InvalidPriceError:
        return None


def is_price(value: object) -> bool:
    return price_or_none(value) is not None


def _to_decimal(value: object) -> Decimal:
    if value is None:
        raise InvalidPriceError("no value")
    if isinstance(value, bool):
        raise InvalidPriceError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise InvalidPriceError(f"not a number: {value!r}") from exc
    # float, numpy.float64/float32, numpy ints, anything with __float__.
    try:
        as_float = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidPriceError(f"not a number: {value!r}") from exc
    if math.isnan(as_float):
        raise InvalidPriceError("NaN")
    if math.isinf(as_float):
        raise InvalidPriceError(f"non-finite value {as_float!r}")
    return Decimal(repr(as_float))
