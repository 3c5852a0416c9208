"""The currency an estimate is shown in, and the one place amounts are converted and written.

AWS prices are in US dollars and the seed's figures in rupees; a bill mixes both, so every
amount passes through one converter and the rate it used is printed with its source and date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from srs.aws.cost.prices import ExchangeRate
from srs.errors import SRSError

CURRENCIES = ("INR", "USD")
SYMBOLS = {"INR": "₹", "USD": "$"}


class CurrencyError(SRSError):
    """An unknown currency or an unusable exchange rate."""


@dataclass(frozen=True, slots=True)
class Converter:
    """Turns dollars and rupees into the shown currency; ``inr_per_usd`` links the two."""

    currency: str
    inr_per_usd: float
    rate_given: bool

    def from_usd(self, amount: float) -> float:
        return amount * self.inr_per_usd if self.currency == "INR" else amount

    def from_inr(self, amount: float) -> float:
        return amount if self.currency == "INR" else amount / self.inr_per_usd

    def convert(self, amount: float, currency: str) -> float:
        return self.from_inr(amount) if currency == "INR" else self.from_usd(amount)

    def text(self, amount: float, decimals: int = 2) -> str:
        return money(amount, self.currency, decimals)


def money(amount: float, currency: str, decimals: int = 2) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{SYMBOLS[currency]}{abs(amount):,.{decimals}f}"


def converter(currency: str, inr_per_usd: float | None, exchange: ExchangeRate) -> Converter:
    """The converter for ``currency``; the table's dated rate unless ``inr_per_usd`` is given."""
    code = currency.strip().upper()
    if code not in CURRENCIES:
        raise CurrencyError(f"currency must be one of {', '.join(CURRENCIES)}, got {currency!r}")
    if inr_per_usd is None:
        return Converter(code, exchange.inr_per_usd, rate_given=False)
    if not math.isfinite(inr_per_usd) or inr_per_usd <= 0:
        raise CurrencyError(f"the INR per USD rate must be a number > 0, got {inr_per_usd!r}")
    return Converter(code, inr_per_usd, rate_given=True)
