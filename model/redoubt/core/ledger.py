"""Every kilogram accounted for: initial + delivered = consumed + in stores + carried + captured + destroyed."""

from __future__ import annotations

from dataclasses import dataclass, field

COMMODITIES = ("food", "ammo")
FLOWS = ("initial", "delivered", "consumed", "captured", "destroyed")


@dataclass
class Ledger:
    """Flows of food and ammunition (kg) for one side. Stocks (in stores, carried) are read off the model."""

    flows: dict = field(default_factory=lambda: {f: {c: 0.0 for c in COMMODITIES} for f in FLOWS})

    def _add(self, flow: str, food: float, ammo: float) -> None:
        self.flows[flow]["food"] += float(food)
        self.flows[flow]["ammo"] += float(ammo)

    def add_initial(self, food, ammo):
        self._add("initial", food, ammo)

    def deliver(self, food, ammo):
        self._add("delivered", food, ammo)

    def consume(self, food, ammo):
        self._add("consumed", food, ammo)

    def capture(self, food, ammo):
        self._add("captured", food, ammo)

    def destroy(self, food, ammo):
        self._add("destroyed", food, ammo)

    def imbalance(self, commodity: str, in_stores: float, carried: float) -> float:
        """sources - sinks - stocks: zero (to rounding) when nothing was created or lost unaccounted."""
        f = self.flows
        sources = f["initial"][commodity] + f["delivered"][commodity]
        sinks = f["consumed"][commodity] + f["captured"][commodity] + f["destroyed"][commodity]
        return sources - sinks - in_stores - carried
