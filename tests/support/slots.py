"""HTTP helpers for slot, ad and cooldown tests (tests/slots/): read /v1/ads/status,
submit and cancel predictions, sign and spend ad receipts, read the unlock rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.slots.service import sign_receipt
from tests.support.factories import DEFAULT_SYMBOLS
from tests.support.http import bearer

# A universe large enough for a day of many predictions (cooldowns have no daily cap).
MANY_SYMBOLS = tuple(f"S{i:02d}" for i in range(40))


def kst(at: datetime) -> str:
    """An instant as the API renders it (ISO-8601 in KST)."""
    return at.astimezone(ZoneInfo("Asia/Seoul")).isoformat()


def slot_status(client: TestClient, token: str) -> dict[str, Any]:
    r = client.get("/v1/ads/status", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def submit(client: TestClient, token: str, symbol: str, choice: str = "UP") -> tuple[int, dict[str, Any]]:
    r = client.post(f"/v1/predictions/{symbol}", json={"choice": choice}, headers=bearer(token))
    return r.status_code, r.json()


def submit_ok(client: TestClient, token: str, symbol: str) -> dict[str, Any]:
    status, body = submit(client, token, symbol)
    assert status == 202, body
    data: dict[str, Any] = body["data"]
    return data


def cancel(client: TestClient, token: str, symbol: str) -> tuple[int, dict[str, Any]]:
    r = client.delete(f"/v1/predictions/{symbol}", headers=bearer(token))
    return r.status_code, r.json()


def receipt(
    settings: Settings, user_id: int, nonce: str, issued_at: int, *, secret: str | None = None
) -> dict[str, Any]:
    signature = sign_receipt(secret or settings.ad_callback_secret, user_id, nonce, issued_at)
    return {"user_id": user_id, "nonce": nonce, "issued_at": issued_at, "signature": signature}


def dev_receipt(client: TestClient, token: str) -> dict[str, Any]:
    """A receipt signed now, as the ad network would send it (the dev route)."""
    r = client.post("/v1/ads/dev-receipt", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def unlock(client: TestClient, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = client.post("/v1/ads/unlock", json={"method": "AD", "receipt": body}, headers=bearer(token))
    return r.status_code, r.json()


def watch_ad(client: TestClient, token: str) -> tuple[int, dict[str, Any]]:
    """Watch one ad: a fresh dev receipt, spent at once."""
    return unlock(client, token, dev_receipt(client, token))


def now_s(clock: FrozenClock) -> int:
    return int(clock.now().timestamp())


def ad_rows(db: Session, user_id: int) -> list[tuple[str, int, str | None]]:
    rows = db.execute(
        text(
            "SELECT method, unlocked_slots, receipt_nonce FROM crypto.ad_unlocks "
            "WHERE user_id = :u ORDER BY id"
        ),
        {"u": user_id},
    ).all()
    return [(r.method, r.unlocked_slots, r.receipt_nonce) for r in rows]


def history(client: TestClient, token: str) -> dict[str, Any]:
    r = client.get("/v1/ads/history", headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def use_base_slots(client: TestClient, token: str) -> None:
    for symbol in DEFAULT_SYMBOLS[:3]:
        submit_ok(client, token, symbol)
