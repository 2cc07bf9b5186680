"""A local HTTP server that plays Google and Kakao: token and userinfo endpoints,
including PKCE verification, error responses and timeouts. The app's real httpx client
talks to it over loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.support.http_server import LoopbackFake, LoopbackServer

# Codes with a behaviour instead of an identity.
BAD_CODE = "bad-code"  # 400 invalid_grant
BOOM_CODE = "boom-code"  # 500 from the token endpoint
SLOW_CODE = "slow-code"  # answers after SLOW_SECONDS (longer than the app's timeout)
BROKEN_USERINFO_CODE = "broken-userinfo-code"  # token ok, userinfo 503
SLOW_SECONDS = 2.5


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class IssuedCode:
    provider: str
    challenge: str
    redirect_uri: str
    userinfo: dict[str, Any]
    used: bool = False


@dataclass
class FakeOAuthServer(LoopbackFake):
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider = self.path.strip("/").split("/")[0]
                with fake.lock:
                    fake.requests.append((self.path, form))
                if not self.path.endswith("/token"):
                    self._send(404, {"error": "not_found"})
                    return
                status, body = fake.exchange(provider, form)
                self._send(status, body)

            def do_GET(self) -> None:
                provider = self.path.strip("/").split("/")[0]
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.requests.append((self.path, {"authorization": auth}))
                    info = fake.tokens.get(auth.removeprefix("Bearer "))
                if info is None or not self.path.endswith("/userinfo"):
                    self._send(401, {"error": "invalid_token"})
                    return
                if info.get("_broken"):
                    self._send(503, {"error": "unavailable"})
                    return
                assert info["_provider"] == provider
                self._send(200, {k: v for k, v in info.items() if not k.startswith("_")})

        self.server = LoopbackServer(Handler)

    def endpoints(self, provider: str) -> dict[str, str]:
        return {
            f"{provider}_authorize_url": f"https://accounts.{provider}.example/authorize",
            f"{provider}_token_url": f"{self.base_url}/{provider}/token",
            f"{provider}_userinfo_url": f"{self.base_url}/{provider}/userinfo",
            f"{provider}_client_id": f"{provider}-client",
            f"{provider}_client_secret": f"{provider}-secret",
        }

    def issue_code(self, provider: str, challenge: str, redirect_uri: str, userinfo: dict[str, Any]) -> str:
        """What the provider does after the user consents: a code bound to the PKCE
        challenge and the redirect_uri."""
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = IssuedCode(provider, challenge, redirect_uri, userinfo)
        return code

    def exchange(self, provider: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        code = form.get("code", "")
        if code == BAD_CODE:
            return 400, {"error": "invalid_grant"}
        if code == BOOM_CODE:
            return 500, {"error": "server_error"}
        if code == SLOW_CODE:
            time.sleep(SLOW_SECONDS)
            return 200, {"access_token": "late", "token_type": "Bearer"}
        if code == BROKEN_USERINFO_CODE:
            token = secrets.token_urlsafe(16)
            with self.lock:
                self.tokens[token] = {"_provider": provider, "_broken": True}
            return 200, {"access_token": token, "token_type": "Bearer"}
        with self.lock:
            issued = self.codes.get(code)
            if (
                issued is None
                or issued.used
                or issued.provider != provider
                or form.get("redirect_uri") != issued.redirect_uri
                or form.get("client_id") != f"{provider}-client"
                or form.get("client_secret") != f"{provider}-secret"
                or pkce_s256(form.get("code_verifier", "")) != issued.challenge
            ):
                return 400, {"error": "invalid_grant"}
            issued.used = True
            token = secrets.token_urlsafe(16)
            self.tokens[token] = {"_provider": provider, **issued.userinfo}
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3599}


def google_user(sub: str, email: str, name: str, verified: bool = True) -> dict[str, Any]:
    return {"sub": sub, "email": email, "email_verified": verified, "name": name}


def kakao_user(kakao_id: int, email: str | None, nickname: str) -> dict[str, Any]:
    account: dict[str, Any] = {"profile": {"nickname": nickname}}
    if email is not None:
        account.update({"email": email, "is_email_verified": True})
    return {"id": kakao_id, "kakao_account": account, "properties": {"nickname": nickname}}
