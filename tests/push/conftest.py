"""Push tests: the pipeline (own queues, real commits) with its push sender pointed at
the local fake FCM (the real FcmSender and Google service-account flow over loopback
HTTP), and the app over that container."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.main import create_app
from myapi.providers.push import FcmSender
from tests.support.fake_fcm import FakeFcm, fake_fcm_server, fake_fcm_settings, fcm, wire_fake_fcm
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline

__all__ = ["fake_fcm_server", "fcm"]

DELIVERIES = (
    "SELECT pd.notification_id, pd.device_id, pd.status, pd.attempts, pd.next_attempt_at, pd.last_error, "
    "pd.lease_token, n.user_id, n.category FROM crypto.push_deliveries pd "
    "JOIN crypto.notifications n ON n.id = pd.notification_id ORDER BY pd.notification_id, pd.device_id"
)


@dataclass
class PushWorld:
    p: Pipeline
    api: TestClient
    fcm: FakeFcm
    sender: FcmSender
    sleeps: list[float]

    def configure(self, **overrides: object) -> None:
        """Change settings the delivery pass reads (it is built per pass)."""
        settings = self.p.settings.model_copy(update=overrides)
        self.p.container.settings.override(providers.Object(settings))

    def player(self, email: str) -> tuple[dict[str, str], int]:
        login = dev_login(self.api, email)
        return bearer(login["access_token"]), int(login["user"]["id"])

    def device(self, auth: dict[str, str], token: str, platform: str = "ANDROID") -> dict[str, Any]:
        r = self.api.post("/v1/devices", json={"token": token, "platform": platform}, headers=auth)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def devices(self, auth: dict[str, str]) -> list[dict[str, Any]]:
        r = self.api.get("/v1/devices", headers=auth)
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data

    def preferences(self, auth: dict[str, str], **body: Any) -> dict[str, Any]:
        full = {"categories": {}, "quiet_hours": None, **body}
        r = self.api.put("/v1/notifications/preferences", json=full, headers=auth)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def notify(self, user_id: int, redemption_id: int, status: str = "ISSUED") -> None:
        """A new REWARD notification for the player, made by the notifications producer
        (no push pass is run)."""
        with self.p.session() as s:
            self.p.container.notification_service(s).reward_outcome(
                user_id=user_id, redemption_id=redemption_id, status=status,
                title="Coffee gift code", cost_points=500, reason=None,
            )  # fmt: skip

    def deliver(self) -> dict[str, Any]:
        """One push pass through the job (a job_runs row)."""
        result = self.p.container.jobs().deliver_push()
        assert result.status == "SUCCEEDED"
        return result.details

    def deliveries(self) -> list[dict[str, Any]]:
        with self.p.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(DELIVERIES))]

    def notification_ids(self, user_id: int, category: str | None = None) -> list[int]:
        """The player's notifications (of one category), oldest first."""
        with self.p.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id FROM crypto.notifications WHERE user_id = :u "
                    "AND (CAST(:c AS text) IS NULL OR category = :c) ORDER BY id"
                ),
                {"u": user_id, "c": category},
            )
            return [int(r[0]) for r in rows]


@pytest.fixture
def world(pipeline: Pipeline, fcm: FakeFcm) -> Iterator[PushWorld]:
    sleeps: list[float] = []
    settings = fake_fcm_settings(pipeline.settings, fcm)
    sender = wire_fake_fcm(pipeline.container, settings, sleeps.append)
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as api:
        yield PushWorld(pipeline, api, fcm, sender, sleeps)
    pipeline.container.push_http().close()
