"""Corporate actions through the queues: the sandbox reports a split and dividends, the
workers fetch and settle, the split and the special dividend are held (alerted, never
VOIDed by the deadline, the next day opens regardless), and the operators' decisions over
HTTP run the day's follow-up again through `settlement.completed`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.providers.eod.base import CorporateAction
from myapi.providers.eod.sandbox import SandboxEodProvider
from tests.support.days import DAY, MARKET_CLOSE
from tests.support.db import failed_checks, statuses
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline

PREVIOUS = DAY - timedelta(days=3)  # Friday 2026-11-20
SYMBOLS = ["AAPL", "MSFT", "NVDA"]


def sandbox() -> SandboxEodProvider:
    """AAPL splits 4-for-1 on DAY; MSFT goes ex a 6 % dividend (held), NVDA a 1 % one
    (an ordinary dividend: settled)."""
    plain = SandboxEodProvider()
    return SandboxEodProvider(
        corporate_actions={
            ("AAPL", DAY): CorporateAction("SPLIT", Decimal(4)),
            ("MSFT", DAY): CorporateAction("DIVIDEND", plain.close("MSFT", PREVIOUS) * Decimal("0.06")),
            ("NVDA", DAY): CorporateAction("DIVIDEND", plain.close("NVDA", PREVIOUS) * Decimal("0.01")),
        }
    )


def test_held_symbol_days_through_the_queues_and_the_decisions_follow_up(
    corp_pipeline: Pipeline, corp_client: TestClient
) -> None:
    p = corp_pipeline
    provider = sandbox()
    with p.session() as s:
        for symbol in SYMBOLS:  # the baselines are the sandbox's own previous closes
            add_close(s, symbol, PREVIOUS, str(provider.close(symbol, PREVIOUS)))
        open_day(s, p.clock, p.settings, SYMBOLS, with_baselines=False)
        bull, bear = make_user(s, "pipe.bull@example.com"), make_user(s, "pipe.bear@example.com")
        for symbol in SYMBOLS:
            predict(s, p.clock, p.settings, bull, symbol, "UP")
            predict(s, p.clock, p.settings, bear, symbol, "DOWN")

    p.container.eod_providers.override(providers.Object([provider]))
    try:
        jobs = p.container.jobs()
        p.clock.set(MARKET_CLOSE + timedelta(minutes=20))
        steps = [a["step"] for a in jobs.tick().details["actions"]]
        assert "eod.fetch.request" in steps
        p.pump()  # fetch -> settlement.requested -> settle -> settlement.completed -> follow-up

        action = p.scalar(
            "SELECT corporate_action FROM crypto.eod_prices WHERE symbol = 'AAPL' AND asof = :d", d=DAY
        )
        assert action == {"kind": "SPLIT", "value": "4"}
        with p.session() as s:
            assert statuses(s, bull)["AAPL"] == ("PENDING", 0, None)
            assert statuses(s, bear)["MSFT"] == ("PENDING", 0, None)
            assert statuses(s, bull)["NVDA"][0] == "CORRECT"  # +1.7 % after a 1 % dividend
            held = s.execute(
                text("SELECT symbol, status, trigger FROM crypto.symbol_day_reviews ORDER BY symbol")
            ).all()
            assert [tuple(r) for r in held] == [("AAPL", "HELD", "SPLIT"), ("MSFT", "HELD", "DIVIDEND")]
            alerts = s.execute(
                text("SELECT key FROM crypto.admin_alerts WHERE kind = 'CORPORATE_ACTION_HELD' ORDER BY key")
            ).scalars()
            assert list(alerts) == [f"CORPORATE_ACTION_HELD:{DAY}:AAPL", f"CORPORATE_ACTION_HELD:{DAY}:MSFT"]
            first = s.execute(
                text("SELECT data FROM crypto.notifications WHERE user_id = :u AND dedup_key = :k"),
                {"u": bull, "k": f"settled:{DAY}"},
            ).scalar_one()
            assert (first["predictions"], first["wins"], first["points"]) == (3, 1, 50)

        # Past the VOID deadline the held symbols are not voided, and the next day opens.
        p.clock.set(MARKET_CLOSE + timedelta(minutes=p.settings.eod_void_deadline_min + 5))
        actions = jobs.tick().details["actions"]
        assert all(a.get("trading_day") != DAY.isoformat() for a in actions if a["step"] != "open")
        p.pump()
        assert p.scalar("SELECT count(*) FROM crypto.session_control WHERE trading_day = '2026-11-24'") == 1
        assert (
            p.scalar(
                "SELECT count(*) FROM crypto.predictions WHERE trading_day = :d AND status = 'PENDING'", d=DAY
            )
            == 4
        )

        # The operator decides: MSFT settles on its ex-dividend close, AAPL is VOID.
        admin = bearer(dev_login(corp_client, "pipe.admin@example.com", role="ADMIN")["access_token"])
        for symbol, decision in (("MSFT", "SETTLE"), ("AAPL", "VOID")):
            r = corp_client.post(
                f"/admin/corporate-actions/{DAY}/{symbol}/decide",
                json={"decision": decision, "reason": "reviewed against the exchange notice"},
                headers=admin,
            )
            assert r.status_code == 200, r.text
            assert r.json()["data"]["details"]["changed"] is True
        p.pump()
    finally:
        p.container.eod_providers.reset_override()

    with p.session() as s:
        assert statuses(s, bear)["MSFT"] == ("CORRECT", 50, None)  # the price fell by the dividend
        assert statuses(s, bull)["AAPL"] == ("VOID", 0, "CORPORATE_ACTION")
        follow_ups = s.execute(
            text(
                "SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.follow_up' "
                "AND trading_day = :d AND status = 'SUCCEEDED'"
            ),
            {"d": DAY},
        ).scalar_one()
        assert follow_ups == 3  # the day's run, then one per decision
        bear_news = s.execute(
            text("SELECT data FROM crypto.notifications WHERE user_id = :u AND dedup_key = :k"),
            {"u": bear, "k": f"settled:{DAY}"},
        ).scalar_one()
        assert (bear_news["wins"], bear_news["voids"], bear_news["points"]) == (1, 1, 50)
        board = s.execute(
            text("SELECT wins, points FROM crypto.player_days WHERE user_id = :u AND trading_day = :d"),
            {"u": bear, "d": DAY},
        ).one()
        assert (board.wins, board.points) == (1, 50)
        assert failed_checks(s, now=p.clock.now()) == {}
