"""HTTP helpers shared by API tests: log in, authenticate, read error codes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from myapi.core.config import Settings


def dev_login(
    client: TestClient, email: str, *, nickname: str | None = None, role: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email}
    if nickname:
        body["nickname"] = nickname
    if role:
        body["role"] = role
    r = client.post("/v1/auth/dev-login", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def internal(settings: Settings) -> dict[str, str]:
    """The headers of a call to /internal (the scheduler's or an operator's token)."""
    return {"X-Internal-Token": settings.internal_token}


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])
