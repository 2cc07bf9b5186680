"""Ranks read from the score counts (migration 0012): with players spread over many blocks
of user ids and many ties, every rank, every page at every offset and the counts behind
them equal a brute force over crypto.predictions — after a settlement, a price revision,
deactivations and reactivations (the users trigger), a prediction taken off the board by
hand — and a rebuild from player_days gives back the same summary."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.leaderboard.repository import BLOCK_SIZE
from myapi.leaderboard.service import PERIODS, LeaderboardService, period_start
from myapi.settlement.service import SettlementService
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day, predict

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN")
# Baselines 100.125, 101.125, 102.125, 103.125 -> AAPL UP, MSFT DOWN, NVDA flat (VOID), AMZN UP.
CLOSES = {"AAPL": "101.000000", "MSFT": "100.000000", "NVDA": "102.125000", "AMZN": "104.000000"}
# 48 players over ~19 blocks of 4096 ids (a few per block, blocks boundaries crossed), with
# 1-4 predictions each: a handful of scores, so most ranks are decided by the user id.
IDS = [3_000 + 1_531 * j for j in range(48)] + [4 * BLOCK_SIZE - 1, 4 * BLOCK_SIZE, 4 * BLOCK_SIZE + 1]


SETTINGS = "SELECT current_setting('statement_timeout'), current_setting('work_mem')"


def _add_player(db: Session, user_id: int) -> None:
    db.execute(
        text(
            "INSERT INTO crypto.users (id, email, nickname, auth_provider, provider_id) "
            "VALUES (:u, :e, :n, 'DEV', :e)"
        ),
        {"u": user_id, "e": f"p{user_id}@example.com", "n": f"p{user_id}"},
    )
    db.execute(
        text(
            "INSERT INTO crypto.points_ledger (user_id, delta_points, reason, ref_type, ref_id, "
            "balance_after) VALUES (:u, 1000, 'signup_bonus', 'SIGNUP', :u, 1000)"
        ),
        {"u": user_id},
    )
    db.execute(text("INSERT INTO crypto.point_balances (user_id, balance) VALUES (:u, 1000)"), {"u": user_id})


def _expected(db: Session) -> list[dict[str, Any]]:
    """The one day's board (every period holds it), recounted from the predictions."""
    totals: dict[int, dict[str, Any]] = defaultdict(lambda: {"points": 0, "wins": 0, "predictions": 0})
    rows = db.execute(
        text(
            "SELECT p.user_id, p.status, p.points_awarded, u.nickname FROM crypto.predictions p "
            "JOIN crypto.users u ON u.id = p.user_id "
            "WHERE u.is_active AND p.status IN ('CORRECT', 'INCORRECT', 'VOID')"
        )
    )
    for r in rows:
        t = totals[int(r.user_id)]
        t["nickname"], t["predictions"] = r.nickname, t["predictions"] + 1
        if r.status == "CORRECT":
            t["wins"] += 1
            t["points"] += int(r.points_awarded)
    order = sorted(totals, key=lambda u: (-totals[u]["points"], -totals[u]["wins"], u))
    return [{"rank": i + 1, "user_id": u, **totals[u]} for i, u in enumerate(order)]


def _counts_off(db: Session) -> int:
    """Score and block counts that differ from a recount of the active rows."""
    off = 0
    for table, key in (
        ("leaderboard_scores", "points, wins"),
        ("leaderboard_score_blocks", f"points, wins, (user_id / {BLOCK_SIZE})::int AS block"),
    ):
        cols = "points, wins" if table == "leaderboard_scores" else "points, wins, block"
        off += int(
            db.execute(
                text(
                    f"SELECT count(*) FROM (SELECT period, period_start, {key}, count(*) AS players "
                    f"FROM crypto.leaderboard WHERE active GROUP BY period, period_start, {cols}) c "
                    f"FULL JOIN (SELECT * FROM crypto.{table} WHERE players > 0) s "
                    f"USING (period, period_start, {cols}) WHERE c.players IS DISTINCT FROM s.players"
                )
            ).scalar_one()
        )
    return off


def _verify(db: Session, service: LeaderboardService) -> list[dict[str, Any]]:
    """Every period: every page (sizes 1, 7, 100, every offset) and every /me equal
    the brute force, and the counts equal a recount."""
    expected = _expected(db)
    n = len(expected)
    assert _counts_off(db) == 0
    shown = [
        (e["rank"], e["user_id"], e["nickname"], e["points"], e["wins"], e["predictions"]) for e in expected
    ]
    for period in PERIODS:
        for size in (1, 7, 100):
            for offset in range(0, n + 2):
                start, rows, total = service.top(period, DAY, size, offset)
                assert start == period_start(period, DAY)
                assert total == n
                got = [(r.rank, r.user_id, r.nickname, r.points, r.wins, r.predictions) for r in rows]
                assert got == shown[offset : offset + size], (period, size, offset)
        by_user = {e["user_id"]: e for e in expected}
        for uid in IDS:
            standing = service.mine(period, DAY, uid)
            assert standing.ranked_players == n
            e = by_user.get(uid)
            if e is None:
                assert standing.entry is None and standing.percentile is None
            else:
                assert standing.entry is not None, (period, uid)
                assert (standing.entry.rank, standing.entry.points, standing.entry.wins) == (
                    e["rank"], e["points"], e["wins"],
                ), (period, uid)  # fmt: skip
    return expected


def _set_active(db: Session, ids: list[int], active: bool) -> None:
    db.execute(
        text("UPDATE crypto.users SET is_active = :a WHERE id = ANY(:ids)").bindparams(
            bindparam("ids", type_=ARRAY(BigInteger))
        ),
        {"a": active, "ids": ids},
    )


def _summary(db: Session) -> tuple[list[Any], ...]:
    return tuple(
        db.execute(text(sql)).all()
        for sql in (
            "SELECT period, period_start, user_id, points, wins, predictions, active "
            "FROM crypto.leaderboard ORDER BY 1, 2, 3",
            "SELECT * FROM crypto.leaderboard_scores WHERE players > 0 ORDER BY 1, 2, 3, 4",
            "SELECT * FROM crypto.leaderboard_score_blocks WHERE players > 0 ORDER BY 1, 2, 3, 4, 5",
        )
    )


def test_ranks_pages_and_counts_equal_a_brute_force_through_revisions_and_deactivations(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    rng = random.Random(12)
    settings = settings.model_copy(update={"base_prediction_slots": len(SYMBOLS)})
    open_day(db, clock, settings, SYMBOLS)
    for uid in IDS:
        _add_player(db, uid)
        for symbol in rng.sample(SYMBOLS, rng.randint(1, 4)):
            predict(db, clock, settings, uid, symbol, rng.choice(("UP", "DOWN")))
    for symbol, close in CLOSES.items():
        add_close(db, symbol, DAY, close)
    clock.set(AFTER_CLOSE)
    service = LeaderboardService(db, clock, statement_timeout_ms=settings.settlement_statement_timeout_ms)

    def settle_and_refresh() -> dict[str, object]:
        SettlementService(db, clock, settings).settle(DAY)
        # The refresh runs with the batch statement_timeout and more work_mem, then puts
        # the transaction's back (the follow-up's other parts keep theirs).
        before = db.execute(text(SETTINGS)).one()
        result = service.refresh(DAY)
        assert db.execute(text(SETTINGS)).one() == before
        return result

    first = settle_and_refresh()
    assert first["players"] == first["players_changed"] == len(IDS)
    board = _verify(db, service)
    assert len({(e["points"], e["wins"]) for e in board}) < len(board) // 4  # mostly ties
    assert service.refresh(DAY)["players_changed"] == 0  # a redelivery changes nothing

    # Deactivated players leave at once (the users trigger), across blocks and at a block
    # boundary; the ranks behind them close up.
    leaving = [IDS[0], IDS[7], IDS[8], 4 * BLOCK_SIZE - 1, 4 * BLOCK_SIZE]
    _set_active(db, leaving, False)
    _set_active(db, [IDS[0]], False)  # no change: the trigger does not fire twice
    assert len(_verify(db, service)) == len(IDS) - len(leaving)

    # AAPL actually fell (a revision): its UP predictions lose, its DOWN ones win.
    add_close(db, "AAPL", DAY, "99.000000", vendor_rev=1)
    revised = settle_and_refresh()
    assert 0 < int(str(revised["players_changed"])) < len(IDS)
    _verify(db, service)

    # Two come back: in their place again, with the revision applied while they were away.
    _set_active(db, [IDS[7], 4 * BLOCK_SIZE], True)
    assert len(_verify(db, service)) == len(IDS) - len(leaving) + 2

    # A prediction taken off the board by hand (an operator's correction): the player with
    # only that one leaves the board at the next refresh.
    only_one = next(
        int(r.user_id)
        for r in db.execute(
            text(
                "SELECT p.user_id FROM crypto.predictions p JOIN crypto.users u ON u.id = p.user_id "
                "WHERE u.is_active GROUP BY p.user_id HAVING count(*) = 1 ORDER BY p.user_id"
            )
        )
    )
    db.execute(
        text(
            "UPDATE crypto.predictions SET status = 'CANCELLED', settled_at = NULL, points_awarded = 0 "
            "WHERE user_id = :u"
        ),
        {"u": only_one},
    )
    assert service.refresh(DAY)["players_changed"] == 1
    assert service.mine("all", DAY, only_one).entry is None
    assert all(e["user_id"] != only_one for e in _verify(db, service))

    # The incremental summary is what a rebuild from player_days gives.
    built = _summary(db)
    for period in PERIODS:
        service.rebuild(period, DAY)
    assert _summary(db) == built
    _verify(db, service)
