"""Leaderboard ranks without counting rows: score counts per period, kept by the refresh

A rank is 1 + the active players ahead: counting them row by row is O(players) per
`/v1/leaderboard/me` (and per deep page). Instead the summary keeps, per period:

* `leaderboard_scores`: active players per score (points, wins);
* `leaderboard_score_blocks`: the same per score and block of user ids (user_id / 4096),
  so that "same score, lower user id" is a sum over at most a few hundred blocks plus a
  count inside one block;
* `leaderboard.active`: the player's `users.is_active` as the counts know it; the rank
  index covers active rows only, and includes `predictions` (a page reads it alone).

The refresh applies each changed player's delta to the totals and the counts (set-based,
O(the day's changed players)). The foreign keys of `player_days` and `leaderboard` to
users go: both derive from crypto.predictions, whose user_id references users (RESTRICT;
accounts are anonymised, never deleted), and the per-row check of every row a refresh
writes cost about a fifth of it at 200k players. A change of `users.is_active`, by whatever path, moves the
player's rows in or out of the counts at once through a trigger on crypto.users
(`leaderboard_follow_user_activity`), under the refresh's advisory lock.

Revision ID: 0012_leaderboard_rank
Revises: 0011_account_lifecycle
Create Date: 2026-12-01 18:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012_leaderboard_rank"
down_revision: str | None = "0011_account_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"
BLOCK = 4096  # user ids per block; myapi/leaderboard/repository.py BLOCK_SIZE

_RANK_COLUMNS = ["period", "period_start", sa.text("points DESC"), sa.text("wins DESC"), "user_id"]

# Serialised with the refresh (same advisory lock), so counts and flags have one writer at
# a time. The player's rows are found through player_days (its primary key starts with
# user_id): week = the Monday of each day, month = its first day, all = 1970-01-01, as
# myapi/leaderboard/service.py period_start. One row per period, so no two flipped rows
# share a count. A count goes down by UPDATE (CHECK players >= 0 is evaluated on the row
# an INSERT proposes, before ON CONFLICT); counts left at 0 are deleted by the refresh.
_PERIODS_AND_FLIPPED = f"""
    WITH periods AS (
        SELECT DISTINCT v.period, v.period_start
        FROM {S}.player_days d
        CROSS JOIN LATERAL (VALUES
            ('week', d.trading_day - (extract(isodow FROM d.trading_day)::int - 1)),
            ('month', d.trading_day - (extract(day FROM d.trading_day)::int - 1)),
            ('all', DATE '1970-01-01')
        ) AS v (period, period_start)
        WHERE d.user_id = NEW.id
    ), flipped AS (
        UPDATE {S}.leaderboard l SET active = NEW.is_active
        FROM periods p
        WHERE l.period = p.period AND l.period_start = p.period_start AND l.user_id = NEW.id
          AND l.active IS DISTINCT FROM NEW.is_active
        RETURNING l.period, l.period_start, l.points, l.wins, (l.user_id / {BLOCK})::int AS block
    )"""
_FUNCTION = f"""
CREATE FUNCTION {S}.leaderboard_follow_user_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('crypto.leaderboard'));
    IF NEW.is_active THEN
        {_PERIODS_AND_FLIPPED}, scores AS (
            INSERT INTO {S}.leaderboard_scores AS s (period, period_start, points, wins, players)
            SELECT period, period_start, points, wins, 1 FROM flipped
            ON CONFLICT (period, period_start, points, wins) DO UPDATE SET players = s.players + 1
        )
        INSERT INTO {S}.leaderboard_score_blocks AS b (period, period_start, points, wins, block, players)
        SELECT period, period_start, points, wins, block, 1 FROM flipped
        ON CONFLICT (period, period_start, points, wins, block) DO UPDATE SET players = b.players + 1;
    ELSE
        {_PERIODS_AND_FLIPPED}, scores AS (
            UPDATE {S}.leaderboard_scores s SET players = s.players - 1 FROM flipped f
            WHERE (s.period, s.period_start, s.points, s.wins) = (f.period, f.period_start, f.points, f.wins)
        )
        UPDATE {S}.leaderboard_score_blocks b SET players = b.players - 1 FROM flipped f
        WHERE (b.period, b.period_start, b.points, b.wins, b.block)
            = (f.period, f.period_start, f.points, f.wins, f.block);
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.drop_constraint("fk_player_days_user_id_users", "player_days", schema=S, type_="foreignkey")
    op.drop_constraint("fk_leaderboard_user_id_users", "leaderboard", schema=S, type_="foreignkey")
    op.add_column(
        "leaderboard",
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        schema=S,
    )
    op.execute(
        f"UPDATE {S}.leaderboard l SET active = false FROM {S}.users u "
        "WHERE u.id = l.user_id AND NOT u.is_active"
    )
    op.drop_index("ix_leaderboard_rank", "leaderboard", schema=S)
    op.create_index(
        "ix_leaderboard_rank", "leaderboard", _RANK_COLUMNS, schema=S,
        postgresql_where=sa.text("active"), postgresql_include=["predictions"],
    )  # fmt: skip
    op.create_table(
        "leaderboard_scores",
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("players", sa.Integer(), nullable=False),
        sa.CheckConstraint("players >= 0", name=op.f("ck_leaderboard_scores_players_non_negative")),
        sa.PrimaryKeyConstraint(
            "period", "period_start", "points", "wins", name=op.f("pk_leaderboard_scores")
        ),
        schema=S,
    )
    op.create_table(
        "leaderboard_score_blocks",
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("players", sa.Integer(), nullable=False),
        sa.CheckConstraint("players >= 0", name=op.f("ck_leaderboard_score_blocks_players_non_negative")),
        sa.PrimaryKeyConstraint(
            "period", "period_start", "points", "wins", "block", name=op.f("pk_leaderboard_score_blocks")
        ),
        schema=S,
    )
    op.execute(
        f"INSERT INTO {S}.leaderboard_scores (period, period_start, points, wins, players) "
        f"SELECT period, period_start, points, wins, count(*) FROM {S}.leaderboard WHERE active "
        "GROUP BY period, period_start, points, wins"
    )
    op.execute(
        f"INSERT INTO {S}.leaderboard_score_blocks (period, period_start, points, wins, block, players) "
        f"SELECT period, period_start, points, wins, (user_id / {BLOCK})::int, count(*) FROM {S}.leaderboard "
        f"WHERE active GROUP BY period, period_start, points, wins, (user_id / {BLOCK})::int"
    )
    op.execute(_FUNCTION)
    op.execute(
        f"CREATE TRIGGER leaderboard_follow_user_activity AFTER UPDATE OF is_active ON {S}.users "
        "FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active) "
        f"EXECUTE FUNCTION {S}.leaderboard_follow_user_activity()"
    )


def downgrade() -> None:
    op.execute(f"DROP TRIGGER leaderboard_follow_user_activity ON {S}.users")
    op.execute(f"DROP FUNCTION {S}.leaderboard_follow_user_activity()")
    op.drop_table("leaderboard_score_blocks", schema=S)
    op.drop_table("leaderboard_scores", schema=S)
    op.drop_index("ix_leaderboard_rank", "leaderboard", schema=S)
    op.create_index("ix_leaderboard_rank", "leaderboard", _RANK_COLUMNS, schema=S)
    op.drop_column("leaderboard", "active", schema=S)
    for table in ("leaderboard", "player_days"):
        op.create_foreign_key(
            f"fk_{table}_user_id_users", table, "users", ["user_id"], ["id"],
            source_schema=S, referent_schema=S, ondelete="RESTRICT",
        )  # fmt: skip
