"""SQL for operator alerts: the per-key state that deduplicates and throttles them, and
the reads the alert check needs. Never commits."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from myapi.alerts.models import AdminAlert


@dataclass(frozen=True)
class Claim:
    """An alert key after an occurrence (or a retry): whether this caller holds the
    claim to post it now, and what the message reports."""

    key: str
    kind: str
    claimed: bool
    title: str
    lines: list[str]
    pending: int  # occurrences not reported yet, this one included
    sent_at: datetime | None
    first_seen_at: datetime

    @property
    def more(self) -> int:
        """Occurrences held back besides the one being reported."""
        return max(self.pending - 1, 0)

    @property
    def since(self) -> datetime:
        return self.sent_at or self.first_seen_at


# Whether the existing row may be claimed now: nobody holds a live claim, and the last
# delivered message is older than the throttle window.
_CLAIMABLE = """(a.claim_until IS NULL OR a.claim_until <= :now)
                AND (a.sent_at IS NULL OR a.sent_at <= :throttle_before)"""


class AlertsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def occur(
        self,
        *,
        key: str,
        kind: str,
        title: str,
        lines: Sequence[str],
        now: datetime,
        token: str,
        claim_until: datetime,
        throttle_before: datetime,
    ) -> Claim:
        """Count one occurrence of `key` (its message becomes this one) and claim it for
        `token` when it may be posted now. One statement: INSERT .. ON CONFLICT DO UPDATE
        takes the key's row lock, so of two callers at once exactly one claims (the
        other waits for the first to commit, then sees its live claim)."""
        row = self.session.execute(
            text(
                f"""
                INSERT INTO crypto.admin_alerts AS a
                    (key, kind, title, lines, occurrences, pending, first_seen_at, last_seen_at,
                     claim_token, claim_until)
                VALUES (:key, :kind, :title, CAST(:lines AS jsonb), 1, 1, :now, :now, :token, :until)
                ON CONFLICT (key) DO UPDATE SET
                    title = EXCLUDED.title, lines = EXCLUDED.lines,
                    occurrences = a.occurrences + 1, pending = a.pending + 1,
                    last_seen_at = GREATEST(a.last_seen_at, EXCLUDED.last_seen_at),
                    claim_token = CASE WHEN {_CLAIMABLE} THEN :token ELSE a.claim_token END,
                    claim_until = CASE WHEN {_CLAIMABLE} THEN :until ELSE a.claim_until END
                RETURNING a.key, a.kind, a.claim_token = :token AS claimed, a.title, a.lines,
                          a.pending, a.sent_at, a.first_seen_at
                """
            ),
            {
                "key": key, "kind": kind, "title": title, "lines": json.dumps(list(lines)),
                "now": now, "token": token, "until": claim_until, "throttle_before": throttle_before,
            },
        ).one()  # fmt: skip
        return _claim(row)

    def claim_undelivered(
        self,
        *,
        kinds: Collection[str],
        exclude: Collection[str],
        now: datetime,
        token: str,
        claim_until: datetime,
        throttle_before: datetime,
    ) -> list[Claim]:
        """Claim every alert of `kinds` whose last post failed and that is still
        unreported (not `exclude`d, not claimed, not throttled): to be posted again.
        SKIP LOCKED: a key another process is deciding about right now is its own."""
        rows = self.session.execute(
            text(
                f"""
                WITH due AS (
                    SELECT a.key FROM crypto.admin_alerts a
                    WHERE a.kind = ANY(:kinds) AND a.pending > 0 AND a.failed_at IS NOT NULL
                      AND NOT (a.key = ANY(:exclude)) AND {_CLAIMABLE}
                    ORDER BY a.key
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE crypto.admin_alerts a SET claim_token = :token, claim_until = :until
                FROM due WHERE a.key = due.key
                RETURNING a.key, a.kind, true AS claimed, a.title, a.lines, a.pending, a.sent_at,
                          a.first_seen_at
                """
            ),
            {
                "kinds": list(kinds), "exclude": list(exclude), "now": now, "token": token,
                "until": claim_until, "throttle_before": throttle_before,
            },
        )  # fmt: skip
        return sorted((_claim(r) for r in rows), key=lambda c: c.key)

    def delivered(self, key: str, token: str, reported: int, now: datetime) -> bool:
        """The claimed message was posted: `reported` occurrences are no longer pending
        (those counted while it was being posted stay, for the next message). False when
        the claim was lost (its lease ran out and another process took it)."""
        result = self.session.execute(
            text(
                """
                UPDATE crypto.admin_alerts
                SET sent_at = :now, sends = sends + 1, pending = GREATEST(pending - :reported, 0),
                    claim_token = NULL, claim_until = NULL, failed_at = NULL, last_error = NULL
                WHERE key = :key AND claim_token = :token
                """
            ),
            {"key": key, "token": token, "reported": reported, "now": now},
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def failed(self, key: str, token: str, error: str, now: datetime) -> None:
        """The claimed post failed: released, still pending, posted by a later occurrence
        (or, for events, by the next check)."""
        self.session.execute(
            text(
                """
                UPDATE crypto.admin_alerts
                SET claim_token = NULL, claim_until = NULL, failed_at = :now, last_error = :error,
                    failures = failures + 1
                WHERE key = :key AND claim_token = :token
                """
            ),
            {"key": key, "token": token, "error": error[:2000], "now": now},
        )

    def delete_seen_before(self, before: datetime) -> int:
        """Forget keys not seen since `before` (nothing claimed)."""
        result = self.session.execute(
            delete(AdminAlert).where(AdminAlert.last_seen_at < before, AdminAlert.claim_token.is_(None))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def get(self, key: str) -> AdminAlert | None:
        return self.session.get(AdminAlert, key)

    # --- what the check reads ---------------------------------------------------------
    def session_close(self, trading_day: date) -> tuple[datetime, bool] | None:
        """The day's market close and whether it is settled (None: never opened)."""
        row = self.session.execute(
            text(
                "SELECT market_close_at, settled_at IS NOT NULL AS settled "
                "FROM crypto.session_control WHERE trading_day = :d"
            ),
            {"d": trading_day},
        ).one_or_none()
        return None if row is None else (row.market_close_at, bool(row.settled))

    def missing_closes(self, trading_day: date) -> tuple[list[str], int]:
        """The day's universe symbols without any EOD close (in universe order), and the
        universe's size."""
        rows = self.session.execute(
            text(
                """
                SELECT u.symbol, NOT EXISTS (
                           SELECT 1 FROM crypto.eod_prices e
                           WHERE e.asof = u.trading_day AND e.symbol = u.symbol) AS missing
                FROM crypto.active_universe u WHERE u.trading_day = :d ORDER BY u.seq, u.symbol
                """
            ),
            {"d": trading_day},
        ).all()
        return [r.symbol for r in rows if r.missing], len(rows)


def _claim(row: Any) -> Claim:
    return Claim(
        key=row.key,
        kind=row.kind,
        claimed=bool(row.claimed),
        title=row.title,
        lines=list(row.lines or []),
        pending=int(row.pending),
        sent_at=row.sent_at,
        first_seen_at=row.first_seen_at,
    )
