"""A small client of the public API for the demo's bots and narrator: the envelope
unwrapped, the player's token kept (and renewed by signing in again on a 401), and
every answer counted by status, so the demo can say whether the server ever failed."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Answer:
    status: int
    data: Any
    code: str | None  # the envelope's error code, None on success

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass
class Tally:
    """Answers by status, and the server errors (5xx) with what was asked."""

    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, answer: Answer) -> None:
        with self._lock:
            self.statuses[answer.status] += 1
            if answer.code:
                self.codes[answer.code] += 1
            if answer.status >= 500:
                self.server_errors.append(f"{method} {path} -> {answer.status} {answer.code}")


class ApiClient:
    def __init__(
        self, base_url: str, tally: Tally, email: str, role: str = "USER", nickname: str | None = None
    ):
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._tally = tally
        self._login = {"email": email, "role": role, **({"nickname": nickname} if nickname else {})}
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def sign_in(self) -> Any:
        answer = self._call("POST", "/v1/auth/dev-login", json=self._login, auth=False)
        if not answer.ok:
            raise RuntimeError(f"dev-login for {self._login['email']} failed: {answer.status} {answer.code}")
        self._token = answer.data["access_token"]
        return answer.data

    def get(self, path: str, **params: Any) -> Answer:
        return self.call("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Answer:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else None
        return self.call("POST", path, json=body if body is not None else {}, headers=headers)

    def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        answer = self._call(method, path, **kwargs)
        if answer.status == 401:  # the access token expired (a demo day is minutes long)
            self.sign_in()
            answer = self._call(method, path, **kwargs)
        return answer

    def _call(
        self, method: str, path: str, *, auth: bool = True, headers: Any = None, **kwargs: Any
    ) -> Answer:
        all_headers = dict(headers or {})
        if auth:
            if self._token is None:
                self.sign_in()
            all_headers["Authorization"] = f"Bearer {self._token}"
        try:
            r = self._http.request(method, path, headers=all_headers, **kwargs)
        except httpx.HTTPError as exc:
            answer = Answer(599, None, f"transport: {type(exc).__name__}")
        else:
            try:
                body = r.json()
            except ValueError:
                body = {}
            error = body.get("error") or {}
            answer = Answer(
                r.status_code, body.get("data"), error.get("code") if r.status_code >= 400 else None
            )
        self._tally.add(method, path, answer)
        return answer
