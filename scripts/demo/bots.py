"""Bot players: each signs in with dev-login and plays through the public API the way a
person would — predicts a few of today's symbols, watches an ad when out of slots (or
waits out the cooldown), now and then changes its mind, and spends points on rewards,
following each redemption until the vendor issues the code."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from scripts.demo.client import ApiClient, Tally

NAMES = (
    "ada",
    "bao",
    "chen",
    "dara",
    "emre",
    "fumi",
    "gita",
    "hana",
    "ivan",
    "jun",
    "kofi",
    "lena",
    "mina",
    "nour",
    "oskar",
    "priya",
    "quinn",
    "rosa",
    "sven",
    "tae",
    "umar",
    "vera",
    "wen",
    "yuki",
)
FINAL = ("ISSUED", "FAILED", "CANCELLED")
REDEEM_CHANCE = 0.4  # per bot and day


def nickname(index: int) -> str:
    return f"{NAMES[index % len(NAMES)]}_bot{index // len(NAMES) or ''}"


class Bot:
    def __init__(
        self,
        index: int,
        base_url: str,
        tally: Tally,
        counts: Counter[str],
        narrate: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.name = nickname(index)
        self.client = ApiClient(base_url, tally, f"{self.name}@demo.example.com", nickname=self.name)
        self._rng = random.Random(index)
        self._up_bias = self._rng.uniform(0.3, 0.7)  # some bots are bulls, some bears
        self._counts = counts
        self._lock = threading.Lock()
        self._narrate = narrate
        self._stop = stop
        self._day: str | None = None
        self._symbols: list[str] = []
        self._predicted: set[str] = set()
        self._target = 0
        self._ad_appetite = 0
        self._ads = 0
        self._waited = False
        self._redeem_decided = False
        self._redemption: dict[str, Any] | None = None

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.step()
                except Exception as exc:  # the bot carries on; the demo reports it
                    self._count("bot_errors")
                    self._narrate(f"  ! {self.name}: {type(exc).__name__}: {exc}")
                self._stop.wait(self._rng.uniform(0.15, 0.5))
        finally:
            self.client.close()

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[what] += n

    def step(self) -> None:
        session = self.client.get("/v1/session/today")
        if not session.ok:
            return
        today = session.data
        if today["trading_day"] != self._day:
            self._new_day(today["trading_day"])
        if today["can_predict"]:
            self._play()
        self._shop()

    def _new_day(self, day: str) -> None:
        self._day = day
        self._symbols = []
        self._predicted = set()
        self._target = self._rng.randint(3, 7)
        self._ad_appetite = self._rng.randint(0, 3)
        self._ads = 0
        self._waited = False
        self._redeem_decided = False

    def _play(self) -> None:
        if not self._symbols:
            universe = self.client.get("/v1/universe/today")
            mine = self.client.get("/v1/predictions/me")
            if not (universe.ok and mine.ok):
                return
            self._symbols = [i["symbol"] for i in universe.data["items"] if i["baseline_price"] is not None]
            self._predicted = {p["symbol"] for p in mine.data["predictions"] if p["status"] != "CANCELLED"}
        if len(self._predicted) >= self._target:
            if self._predicted and self._rng.random() < 0.003:  # a change of mind, free while open
                symbol = self._rng.choice(sorted(self._predicted))
                if self.client.call("PATCH", f"/v1/predictions/{symbol}", json={"choice": self._choice()}).ok:
                    self._count("changes")
            return
        status = self.client.get("/v1/ads/status")
        if not status.ok:
            return
        slots = status.data
        todo = [s for s in self._symbols if s not in self._predicted]
        if slots["available"] > 0 and todo:
            symbol = self._rng.choice(todo)
            answer = self.client.post(f"/v1/predictions/{symbol}", {"choice": self._choice()})
            if answer.ok or answer.code == "PRED_005":  # PRED_005: made already (a retry)
                self._predicted.add(symbol)
                self._count("predictions", answer.ok)
        elif slots["available"] == 0 and slots["can_unlock"] and self._ads < self._ad_appetite:
            receipt = self.client.post("/v1/ads/dev-receipt")
            if (
                receipt.ok
                and self.client.post("/v1/ads/unlock", {"method": "AD", "receipt": receipt.data}).ok
            ):
                self._ads += 1
                self._count("ads_watched")
        elif slots["available"] == 0 and not self._waited:
            self._waited = True  # out of slots and ads: waiting for the cooldown's next slot
            self._count("cooldown_waits")

    def _choice(self) -> str:
        return "UP" if self._rng.random() < self._up_bias else "DOWN"

    def _shop(self) -> None:
        if self._redemption is not None:
            self._follow_redemption()
            return
        if self._redeem_decided:
            return
        self._redeem_decided = True
        if self._rng.random() >= REDEEM_CHANCE:
            return
        catalog, balance = self.client.get("/v1/rewards/catalog"), self.client.get("/v1/points/balance")
        if not (catalog.ok and balance.ok):
            return
        affordable = [
            i for i in catalog.data if i["available"] > 0 and i["cost_points"] <= balance.data["available"]
        ]
        if not affordable:
            return
        item = self._rng.choice(affordable)
        answer = self.client.post("/v1/rewards/redeem", {"sku": item["sku"]}, idempotent=True)
        if answer.ok:
            self._count("redemptions")
            self._redemption = {
                "id": answer.data["redemption_id"],
                "title": item["title"],
                "cost": item["cost_points"],
            }

    def _follow_redemption(self) -> None:
        assert self._redemption is not None
        answer = self.client.get(f"/v1/rewards/redemptions/{self._redemption['id']}")
        if not answer.ok or answer.data["status"] not in FINAL:
            return
        status, title = answer.data["status"], self._redemption["title"]
        if status == "ISSUED":
            self._count("rewards_issued")
            code = str(answer.data.get("code") or "")
            self._narrate(
                f"  reward issued: {title} to {self.name} for {self._redemption['cost']} points "
                f"(code {code[:4]}…)"
            )
        else:
            self._count("rewards_not_issued")
            self._narrate(
                f"  reward {status.lower()}: {title} for {self.name} ({answer.data.get('failure_reason')})"
            )
        self._redemption = None
