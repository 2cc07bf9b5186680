"""Revocation at once: the per-user token epoch, and the live-family index

* `users.token_epoch`: carried in every access token (claim `ep`); the per-request user
  lookup refuses a token whose epoch is not the account's. Bumped when every session of
  the account must end at once: a suspension, a reactivation, the player's deletion, a
  demotion. Existing rows start at 0, and a token issued before this revision (no `ep`)
  counts as epoch 0, so nobody is logged out by the deploy.
* `ix_refresh_tokens_live_family`: the same lookup also checks that the access token's
  refresh-token family (claim `fam`) still has a live token (logout and reuse detection
  revoke the family): a partial index on the live rows makes that one index probe.

Adding a NOT NULL column with a constant default does not rewrite the table (PostgreSQL
11+).

Revision ID: 0017_token_epoch
Revises: 0016_ops_tools
Create Date: 2026-12-02 01:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017_token_epoch"
down_revision: str | None = "0016_ops_tools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("token_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_users_token_epoch_not_negative"), "users", "token_epoch >= 0", schema=S
    )
    op.create_index(
        "ix_refresh_tokens_live_family",
        "refresh_tokens",
        ["family_id"],
        schema=S,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_live_family", table_name="refresh_tokens", schema=S)
    op.drop_constraint("ck_users_token_epoch_not_negative", "users", schema=S)
    op.drop_column("users", "token_epoch", schema=S)
