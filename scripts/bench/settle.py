"""Benchmark of settlement: the app's set-based `SettlementService.settle` on one trading
day of N players x 10 predictions, against a deliberately naive per-prediction ORM loop.

    .venv/bin/python -m scripts.bench.settle [--users 100000] [--naive-sample 20000] [--explain]
        [--statement-timeout-ms MS] [--tune no_ledger_fk --tune temp_buffers ...]

Not part of the test run. What it does, and undoes at the end (also on Ctrl-C or an error):

1. A fresh database on the local server (BENCH_DATABASE_URL, else 127.0.0.1:5432, else
   embedded), migrated to head, filled with bulk SQL: N players (balance 1000 and their
   SIGNUP ledger row), a 10-symbol universe with baselines for 2026-11-23, the day's
   session in phase SETTLE, one PENDING prediction per player and symbol (UP/DOWN from a
   seeded hash, inserted in a shuffled "submission" order), and the day's closes: some
   symbols up, some down, one exactly flat. VACUUM ANALYZE + CHECKPOINT, then timed:
   `SettlementService(...).settle(day)` in one unit of work, commit included, with the
   time of each SQL statement. The bench's sessions have the app's statement_timeout
   (statements slower than the timeout the app would apply are flagged). The result is
   checked after an ANALYZE (nothing PENDING, CORRECT count as computed independently,
   one SETTLEMENT ledger row per win, sum of balances, the integrity checks of
   myapi.admin.repository, run with enable_nestloop off: see verify()).
2. A second fresh database generated the same way with --naive-sample / 10 players (the
   same seed, so the same first players' predictions), settled by a naive loop in one
   unit of work: per PENDING prediction, load it with the ORM, decide in Python, update
   it, flush, and `PointsLedger.apply` per win. Checked the same way.
3. With --explain, a third database: the settlement runs once more with EXPLAIN (ANALYZE,
   BUFFERS) of each statement inside a savepoint before the statement itself; the plans
   are printed and the transaction is rolled back.

--tune applies a candidate change (an index, a fillfactor, a setting) to the bench
databases before they are filled: the measured evidence for a suggestion, with the app's
own code unchanged. The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from myapi.admin.repository import IntegrityRepository
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.core.enums import Choice, PredictionStatus
from myapi.cycle.models import SessionControl
from myapi.points.service import PointsLedger
from myapi.predictions.models import Prediction
from myapi.settlement.service import SettlementService
from scripts import devstack
from scripts.bench.common import log
from scripts.bench.common import terminate as _terminate

DAY = date(2026, 11, 23)  # a Monday
PREVIOUS_DAY = date(2026, 11, 20)  # the Friday before: the baselines' close
SUBMITTED_AT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
SIGNUP_BALANCE = 1000
SEED = 20261123
# symbol -> (baseline = previous close, today's close): 5 up, 4 down, 1 exactly flat.
UNIVERSE: dict[str, tuple[str, str]] = {
    "AAPL": ("100.125000", "101.500000"),
    "MSFT": ("101.125000", "99.750000"),
    "NVDA": ("102.125000", "102.125000"),
    "AMZN": ("103.125000", "104.000000"),
    "TSLA": ("104.125000", "100.000000"),
    "META": ("105.125000", "106.000000"),
    "GOOGL": ("106.125000", "106.500000"),
    "NFLX": ("107.125000", "105.000000"),
    "AMD": ("108.125000", "110.000000"),
    "INTC": ("109.125000", "108.000000"),
}
TARGET_SETTLE_S = 12.0
TARGET_SPEEDUP = 50.0
APP_STATEMENT_TIMEOUT_MS = Settings.model_fields["db_statement_timeout_ms"].default
# What a settlement statement may take: the settlement's own SET LOCAL timeout where the app
# has one, else the sessions' default.
_SETTLEMENT_TIMEOUT_FIELD = Settings.model_fields.get("settlement_statement_timeout_ms")
SETTLE_STATEMENT_TIMEOUT_MS = (
    _SETTLEMENT_TIMEOUT_FIELD.default if _SETTLEMENT_TIMEOUT_FIELD is not None else APP_STATEMENT_TIMEOUT_MS
)
# Changes to try against the app as it is, applied to the bench databases only (--tune):
# the evidence behind the suggestions this benchmark prints. {db} is the database name.
TUNINGS: dict[str, tuple[str, list[str]]] = {
    "temp_buffers": (
        "temp_buffers 256MB (temp tables in memory)",
        ["ALTER DATABASE {db} SET temp_buffers = '256MB'"],
    ),
    "no_ledger_fk": (
        "points_ledger without its FK to users (one RI check per ledger row)",
        ["ALTER TABLE crypto.points_ledger DROP CONSTRAINT fk_points_ledger_user_id_users"],
    ),
}


# --- databases -----------------------------------------------------------------------
@contextmanager
def fresh_database(pg: devstack.Postgres, label: str, tunings: list[str]) -> Iterator[str]:
    """A new database migrated to head (plus any --tune changes); dropped on the way out,
    whatever happens."""
    name = devstack.unique_database_name(f"bench_settle_{label}")
    url = devstack.render_url(pg.create_database(name))
    log(f"database {name} created")
    try:
        devstack.migrate(url)
        if tunings:
            engine = make_engine(bench_settings(url, 0))
            try:
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    for tuning in tunings:
                        for statement in TUNINGS[tuning][1]:
                            c.execute(text(statement.format(db=f'"{name}"')))
            finally:
                engine.dispose()
        yield url
    finally:
        pg.drop_database(name)
        log(f"database {name} dropped")


def bench_settings(url: str, statement_timeout_ms: int) -> Settings:
    # Everything else as the app's defaults, as a worker has it.
    return Settings(
        database_url=url,
        environment="test",
        log_json=False,
        db_pool_size=2,
        db_statement_timeout_ms=statement_timeout_ms,
    )


def generate_day(engine: Engine, users: int) -> None:
    """The state of a closed trading day, by bulk SQL."""
    params: dict[str, Any] = {"n": users, "day": DAY, "prev": PREVIOUS_DAY, "t": SUBMITTED_AT, "seed": SEED}
    started = time.perf_counter()
    with engine.begin() as conn:

        def run(sql: str, **extra: Any) -> None:
            conn.execute(text(sql), {**params, **extra})

        run("SET LOCAL statement_timeout = 0")
        run(
            "INSERT INTO crypto.users (id, email, nickname, auth_provider, provider_id, created_at, "
            "updated_at) SELECT g, 'bench' || g || '@example.com', 'b' || g, 'DEV', 'bench-' || g, :t, :t "
            "FROM generate_series(1, :n) g"
        )
        run("SELECT setval(pg_get_serial_sequence('crypto.users', 'id'), :n)")
        run(
            "INSERT INTO crypto.point_balances (user_id, balance, updated_at) "
            "SELECT g, :bal, :t FROM generate_series(1, :n) g",
            bal=SIGNUP_BALANCE,
        )
        run(
            "INSERT INTO crypto.points_ledger (user_id, delta_points, reason, ref_type, ref_id, "
            "balance_after, created_at) "
            "SELECT g, :bal, 'signup_bonus', 'SIGNUP', g::text, :bal, :t FROM generate_series(1, :n) g",
            bal=SIGNUP_BALANCE,
        )
        for seq, (symbol, (baseline, close)) in enumerate(UNIVERSE.items(), start=1):
            run(
                "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
                "VALUES (:prev, :s, 0, :b, 'sandbox'), (:day, :s, 0, :c, 'sandbox')",
                s=symbol,
                b=Decimal(baseline),
                c=Decimal(close),
            )
            run(
                "INSERT INTO crypto.active_universe (trading_day, symbol, seq, baseline_price, baseline_at, "
                "baseline_source) VALUES (:day, :s, :seq, :b, :bat, 'eod:sandbox')",
                s=symbol,
                seq=seq,
                b=Decimal(baseline),
                bat=datetime(2026, 11, 20, 21, 0, tzinfo=UTC),
            )
        run(
            "INSERT INTO crypto.session_control (trading_day, phase, predict_open_at, predict_cutoff_at, "
            "market_open_at, market_close_at, settle_ready_at, updated_at) "
            "VALUES (:day, 'SETTLE', :open, :cutoff, :mopen, :mclose, :ready, :ready)",
            open=datetime(2026, 11, 22, 22, 0, tzinfo=UTC),
            cutoff=datetime(2026, 11, 23, 14, 25, tzinfo=UTC),
            mopen=datetime(2026, 11, 23, 14, 30, tzinfo=UTC),
            mclose=datetime(2026, 11, 23, 21, 0, tzinfo=UTC),
            ready=datetime(2026, 11, 23, 21, 15, tzinfo=UTC),
        )
        # One prediction per (player, symbol); the choice from a seeded hash (the same for a
        # player whatever N is); rows in a shuffled order, as submissions interleave in a day.
        run(
            """
            INSERT INTO crypto.predictions (trading_day, user_id, symbol, choice, status, baseline_price,
                                            baseline_at, submitted_at, updated_at, points_awarded)
            SELECT :day, g, u.symbol,
                   CASE WHEN hashtextextended(g || ':' || u.symbol, :seed) & 1 = 0
                        THEN 'UP' ELSE 'DOWN' END::crypto.choice,
                   'PENDING', u.baseline_price, u.baseline_at, :t, :t, 0
            FROM generate_series(1, :n) g CROSS JOIN crypto.active_universe u
            WHERE u.trading_day = :day
            ORDER BY hashtextextended(g || ':' || u.symbol, :seed + 1)
            """
        )
    generated = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
        conn.execute(text("CHECKPOINT"))
    log(f"{users:,} players, {users * len(UNIVERSE):,} predictions generated in {generated:.1f} s")


def expected_correct(engine: Engine) -> int:
    """CORRECT predictions the day should produce, computed apart from the app's SQL."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT symbol, choice, count(*) FROM crypto.predictions WHERE trading_day = :d "
                "GROUP BY symbol, choice"
            ),
            {"d": DAY},
        ).all()
    total = 0
    for symbol, choice, count in rows:
        baseline, close = (Decimal(v) for v in UNIVERSE[symbol])
        if close != baseline and (close > baseline) == (choice == "UP"):
            total += int(count)
    return total


# --- checks ----------------------------------------------------------------------------
@dataclass
class Verification:
    checks: dict[str, bool] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    failed_integrity: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def verify(engine: Engine, users: int, expected: int) -> Verification:
    factory = make_sessionmaker(engine)
    v = Verification()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SET statement_timeout = 0"))
        conn.execute(text("ANALYZE"))  # as autovacuum would, some time after the settlement
    with unit_of_work(factory) as s:
        # Checking is not what is measured: no statement timeout for it, and no nested loops:
        # points_awarded_match_ledger is planned as a nested loop (ORDER BY id LIMIT over a
        # join), quadratic when nothing is wrong, hours at 1M predictions.
        s.execute(text("SET LOCAL statement_timeout = 0"))
        s.execute(text("SET LOCAL enable_nestloop = off"))

        def scalar(sql: str) -> int:
            return int(s.execute(text(sql), {"d": DAY}).scalar_one() or 0)

        pending = scalar(
            "SELECT count(*) FROM crypto.predictions WHERE trading_day = :d AND status = 'PENDING'"
        )
        correct = scalar(
            "SELECT count(*) FROM crypto.predictions WHERE trading_day = :d AND status = 'CORRECT'"
        )
        wins = scalar(
            "SELECT count(*) FROM crypto.points_ledger WHERE trading_day = :d AND ref_type = 'SETTLEMENT'"
        )
        balances = scalar("SELECT sum(balance) FROM crypto.point_balances")
        v.details = {
            "pending": pending,
            "correct": correct,
            "settlement_entries": wins,
            "sum_balance": balances,
        }
        v.checks["no PENDING left"] = pending == 0
        v.checks[f"CORRECT == expected ({expected:,})"] = correct == expected
        v.checks["CORRECT == SETTLEMENT ledger rows"] = correct == wins
        v.checks["sum(balance) == 1000*users + 50*correct"] = (
            balances == SIGNUP_BALANCE * users + 50 * correct
        )
        started = time.perf_counter()
        for result in IntegrityRepository(s).run():
            v.checks[f"integrity: {result.name}"] = result.passed
            if not result.passed:
                v.failed_integrity[result.name] = result.offending[:5]
        v.details["integrity_s"] = round(time.perf_counter() - started, 2)
    return v


def print_verification(title: str, v: Verification) -> None:
    print(f"  {title}: {'all checks pass' if v.ok else 'CHECKS FAILED'}  {v.details}")
    for name, passed in v.checks.items():
        print(f"    [{'ok' if passed else 'FAIL'}] {name}")
    for name, rows in v.failed_integrity.items():
        print(f"    {name} offending (first rows): {rows}")


# --- statement timing ------------------------------------------------------------------
_WS = re.compile(r"\s+")


def statement_label(sql: str) -> str:
    flat = _WS.sub(" ", sql).strip()
    if flat.startswith("WITH fresh AS"):
        return "LedgerStaging.apply: WITH fresh ... INSERT ledger / UPDATE balances"
    return flat[:90]


@contextmanager
def timed_statements(engine: Engine) -> Iterator[list[tuple[str, float, int]]]:
    """(label, seconds, rowcount) of every statement run on `engine` inside the block."""
    timings: list[tuple[str, float, int]] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        began = conn.info["bench_started"].pop()
        timings.append((statement_label(statement), time.perf_counter() - began, cursor.rowcount))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield timings
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


# --- the two ways of settling ----------------------------------------------------------
@dataclass
class SetBasedRun:
    seconds: float
    commit_s: float
    result: dict[str, Any]
    statements: list[tuple[str, float, int]]


def run_set_based(engine: Engine, settings: Settings) -> SetBasedRun:
    factory = make_sessionmaker(engine)
    clock = FrozenClock(AFTER_CLOSE)
    with engine.connect() as conn:  # a pooled connection, as a long-running worker has
        conn.execute(text("SELECT 1"))
    with timed_statements(engine) as statements:
        started = time.perf_counter()
        with unit_of_work(factory) as session:
            result = SettlementService(session, clock, settings).settle(DAY)
            settled = time.perf_counter()
        finished = time.perf_counter()
    return SetBasedRun(finished - started, finished - settled, result, statements)


def naive_outcome(prediction: Prediction, close: Decimal | None) -> tuple[PredictionStatus, str | None]:
    baseline = prediction.baseline_price
    if close is None:
        return PredictionStatus.VOID, "EOD_MISSING"
    if baseline is None:
        return PredictionStatus.VOID, "NO_BASELINE"
    if close == baseline:
        return PredictionStatus.VOID, "FLAT"
    if (close > baseline) == (prediction.choice == Choice.UP):
        return PredictionStatus.CORRECT, None
    return PredictionStatus.INCORRECT, None


def run_naive(engine: Engine, settings: Settings) -> tuple[int, float]:
    """The per-prediction loop; returns (predictions settled, seconds)."""
    factory = make_sessionmaker(engine)
    clock = FrozenClock(AFTER_CLOSE)
    win = settings.points_win_reward
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        now = clock.now()
        session.execute(select(SessionControl).where(SessionControl.trading_day == DAY).with_for_update())
        closes: dict[str, Decimal] = {
            r.symbol: r.close_price
            for r in session.execute(
                text(
                    "SELECT DISTINCT ON (symbol) symbol, close_price FROM crypto.eod_prices "
                    "WHERE asof = :d ORDER BY symbol, vendor_rev DESC"
                ),
                {"d": DAY},
            )
        }
        ids = list(
            session.scalars(
                select(Prediction.id)
                .where(Prediction.trading_day == DAY, Prediction.status == PredictionStatus.PENDING)
                .order_by(Prediction.id)
            )
        )
        ledger = PointsLedger(session, clock)
        for prediction_id in ids:
            prediction = session.get(Prediction, prediction_id)
            assert prediction is not None
            status, void_reason = naive_outcome(prediction, closes.get(prediction.symbol))
            prediction.status = status
            prediction.void_reason = void_reason
            prediction.points_awarded = win if status == PredictionStatus.CORRECT else 0
            prediction.settled_at = now
            prediction.updated_at = now
            session.flush()
            if status == PredictionStatus.CORRECT and win:
                ledger.apply(
                    user_id=prediction.user_id,
                    delta=win,
                    reason="prediction_win",
                    ref_type="SETTLEMENT",
                    ref_id=f"{DAY.isoformat()}:{prediction.symbol}:{prediction.user_id}",
                    trading_day=DAY,
                    symbol=prediction.symbol,
                )
        row = session.get(SessionControl, DAY)
        assert row is not None
        row.settled_at = now
        row.updated_at = now
    return len(ids), time.perf_counter() - started


# --- EXPLAIN ANALYZE of each statement ---------------------------------------------------
def run_explained(engine: Engine, settings: Settings) -> list[tuple[str, str]]:
    """Settle once with EXPLAIN (ANALYZE, BUFFERS) of each data statement, run inside a
    savepoint that is rolled back before the statement itself runs; then roll back all."""
    plans: list[tuple[str, str]] = []
    explainable = ("CREATE TEMP TABLE", "INSERT", "UPDATE", "WITH", "SELECT")

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        flat = _WS.sub(" ", statement).strip()
        if many or not flat.upper().startswith(explainable) or "FROM crypto.session_control" in flat:
            return
        if flat.upper().startswith("CREATE TEMP TABLE") and " AS " not in flat.upper():
            return  # a plain table definition: nothing to explain
        raw = cursor.connection
        with raw.cursor() as cur:
            cur.execute("SAVEPOINT bench_explain")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING) " + statement, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
            cur.execute("ROLLBACK TO SAVEPOINT bench_explain")
        plans.append((statement_label(statement), plan))

    factory = make_sessionmaker(engine)
    clock = FrozenClock(AFTER_CLOSE)
    event.listen(engine, "before_cursor_execute", before)
    try:
        session: Session = factory()
        try:
            SettlementService(session, clock, settings).settle(DAY)
        finally:
            session.rollback()
            session.close()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return plans


# --- main -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    statement_timeout_ms: int
    tunings: list[str]


def with_database(
    pg: devstack.Postgres, label: str, users: int, options: Options, work: Callable[[Engine, Settings], Any]
) -> Any:
    with fresh_database(pg, label, options.tunings) as url:
        settings = bench_settings(url, options.statement_timeout_ms)
        engine = make_engine(settings)
        try:
            generate_day(engine, users)
            return work(engine, settings)
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.settle", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=100_000, help="players, 10 predictions each")
    parser.add_argument(
        "--naive-sample", type=int, default=20_000, help="predictions for the naive loop (0: skip)"
    )
    parser.add_argument("--explain", action="store_true", help="also EXPLAIN ANALYZE each statement")
    parser.add_argument(
        "--statement-timeout-ms",
        type=int,
        default=APP_STATEMENT_TIMEOUT_MS,
        help="statement_timeout of the bench's sessions (default: the app's; 0: none); "
        "statements slower than a timeout the app would apply are flagged",
    )
    parser.add_argument(
        "--tune",
        action="append",
        choices=sorted(TUNINGS),
        default=[],
        help="apply a candidate change to the bench databases first (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.error("--users must be at least 1")
    signal.signal(signal.SIGTERM, _terminate)

    pg = devstack.find_postgres("BENCH_DATABASE_URL")
    log(f"PostgreSQL: {pg.source}")
    options = Options(args.statement_timeout_ms, args.tune)
    predictions = args.users * len(UNIVERSE)
    try:
        # 1. set-based, on the full day
        def set_based(engine: Engine, settings: Settings) -> tuple[SetBasedRun, Verification, int]:
            expected = expected_correct(engine)
            log(f"settling {predictions:,} predictions (set-based)")
            run = run_set_based(engine, settings)
            log(f"settled in {run.seconds:.2f} s; verifying")
            return run, verify(engine, args.users, expected), expected

        run, checked, expected = with_database(pg, "set", args.users, options, set_based)

        # 2. the naive loop on a sample of the same data
        naive: tuple[int, float, Verification] | None = None
        if args.naive_sample > 0:
            sample_users = max(1, args.naive_sample // len(UNIVERSE))

            def naive_loop(engine: Engine, settings: Settings) -> tuple[int, float, Verification]:
                expected_sample = expected_correct(engine)
                log(f"settling {sample_users * len(UNIVERSE):,} predictions one by one (naive ORM loop)")
                n, seconds = run_naive(engine, settings)
                log(f"naive loop done in {seconds:.1f} s; verifying")
                return n, seconds, verify(engine, sample_users, expected_sample)

            naive = with_database(pg, "naive", sample_users, options, naive_loop)

        # 3. optional plans
        plans: list[tuple[str, str]] = []
        if args.explain:
            plans = with_database(pg, "explain", args.users, options, run_explained)
    finally:
        pg.stop()

    # --- report
    result = run.result
    print()
    print(
        f"Settlement of {predictions:,} predictions ({args.users:,} players x {len(UNIVERSE)} symbols), {DAY}"
    )
    print(
        f"  set-based settle(): {run.seconds:.2f} s in one unit of work (commit {run.commit_s:.2f} s); "
        f"changed {result.get('predictions_changed')}, ledger entries {result.get('ledger_entries')}, "
        f"players credited {result.get('players_credited')}; counts {result.get('counts')}"
    )
    for tuning in args.tune:
        print(f"  tuned (bench databases only): {tuning}: {TUNINGS[tuning][0]}")
    print("  time per statement (s, rows):")
    accounted = 0.0
    for label, seconds, rows in run.statements:
        accounted += seconds
        if seconds * 1000 > SETTLE_STATEMENT_TIMEOUT_MS:
            flag = f"  <-- over the settlement's statement_timeout ({SETTLE_STATEMENT_TIMEOUT_MS} ms)"
        elif seconds * 1000 > APP_STATEMENT_TIMEOUT_MS:
            flag = f"  <-- over the app's default statement_timeout ({APP_STATEMENT_TIMEOUT_MS} ms)"
        else:
            flag = ""
        print(f"    {seconds:8.3f}  {rows:>9}  {label}{flag}")
    print(f"    {run.seconds - accounted:8.3f}             (outside SQL: Python, ORM, pool)")
    print_verification("set-based result", checked)

    summary: dict[str, Any] = {"predictions": predictions, "settle_s": round(run.seconds, 3)}
    ok = checked.ok
    if naive is not None:
        n, seconds, naive_checked = naive
        per_ms = seconds * 1000 / max(n, 1)
        projected_s = per_ms * predictions / 1000
        speedup = projected_s / run.seconds
        print(
            f"  naive ORM loop: {n:,} predictions in {seconds:.2f} s = {per_ms:.3f} ms per prediction; "
            f"projected for {predictions:,}: {projected_s:,.0f} s ({projected_s / 60:.1f} min)"
        )
        print_verification("naive result", naive_checked)
        print(f"  speedup (projected naive / set-based): {speedup:,.0f}x")
        summary.update(
            naive_per_prediction_ms=round(per_ms, 4),
            naive_projected_s=round(projected_s, 1),
            speedup=round(speedup, 1),
        )
        ok = ok and naive_checked.ok
    else:
        summary.update(naive_per_prediction_ms=None, naive_projected_s=None, speedup=None)

    scale = 1_000_000 / predictions
    print(
        f"  target: 1,000,000 predictions in <= {TARGET_SETTLE_S:.0f} s"
        + (
            f" (this run: {predictions:,}; linear projection to 1M: {run.seconds * scale:.1f} s)"
            if scale != 1
            else ""
        )
        + f"; >= {TARGET_SPEEDUP:.0f}x the naive loop"
    )
    for label, plan in plans:
        print(f"\n--- EXPLAIN ANALYZE: {label}\n{plan}")
    print()
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
