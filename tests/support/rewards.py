"""Rewards test helpers: catalog items, and driving redemption sagas through the real
outbox relay, SQS queue and worker."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.providers.rewards import SANDBOX_VENDOR
from tests.support.pipeline import Pipeline


def add_reward(
    db: Session,
    sku: str = "COFFEE",
    *,
    cost: int = 500,
    stock: int = 10,
    vendor: str = SANDBOX_VENDOR,
    active: bool = True,
    title: str | None = None,
) -> str:
    db.execute(
        text(
            "INSERT INTO crypto.rewards_inventory (sku, title, cost_points, stock, vendor, is_active) "
            "VALUES (:sku, :title, :cost, :stock, :vendor, :active)"
        ),
        {"sku": sku, "title": title or f"{sku} gift code", "cost": cost, "stock": stock, "vendor": vendor,
         "active": active},
    )  # fmt: skip
    return sku


SAGA_RUNS = "SELECT count(*) FROM crypto.job_runs WHERE job = 'rewards.saga' AND status = 'SUCCEEDED'"


def run_sagas(p: Pipeline, rounds: int = 10) -> int:
    """Relay the outbox and drain q-rewards-saga until nothing moves. Returns the saga
    messages handled (`reward.requested`; the queue also carries the outcome events the
    notifications consume, which are not counted)."""
    before = int(str(p.scalar(SAGA_RUNS)))
    for _ in range(rounds):
        published = p.relay().publish_once().published
        done = p.worker("rewards_saga").drain()
        if not published and not done:
            break
    return int(str(p.scalar(SAGA_RUNS))) - before


def redemption(p: Pipeline, redemption_id: int) -> dict[str, object]:
    """The redemption's row, every column (`vendor_key` included)."""
    with p.engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM crypto.rewards_redemptions WHERE id = :i"), {"i": redemption_id}
        ).one()
    return dict(row._mapping)


def vendor_key(p: Pipeline, redemption_id: int) -> str:
    """The redemption's idempotency key at its vendor (a UUID, not the id): what the
    vendor's orders, and so the sandbox's and the fake vendor's codes, are keyed by."""
    return str(redemption(p, redemption_id)["vendor_key"])


def sweep(p: Pipeline) -> dict[str, object]:
    """One pass of the sweeper (`Jobs.sweep_rewards`, as the tick runs it): what it
    requeued. It only hands sagas back to the workers: `run_sagas` drives them."""
    details: dict[str, object] = p.container.jobs().sweep_rewards().details
    return details


def inventory(p: Pipeline, sku: str) -> tuple[int, int, int]:
    """(stock, reserved, issued) of a SKU."""
    with p.engine.connect() as conn:
        row = conn.execute(
            text("SELECT stock, reserved, issued FROM crypto.rewards_inventory WHERE sku = :s"), {"s": sku}
        ).one()
    return int(row.stock), int(row.reserved), int(row.issued)
