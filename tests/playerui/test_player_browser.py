"""The player page in headless Chromium on a phone screen (390 x 844), on a day the test
drives: the day opens (the scheduler's tick), a player signs in with the dev-login
form, sees the session and its countdown, calls three symbols, switches one, cancels
and redoes one, runs out of slots (the API's PRED_003 on screen), watches an ad for a
fourth; the cutoff closes the board without a reload; after the close the EOD fetch,
the settlement and its follow-up (leaderboard, notifications) run through the real
queues and workers, and the page shows the day's results with the crowd's split, the
points won in the balance and the ledger, the player's rank, the results notification;
a reward is redeemed and followed live until ISSUED with its gift code. Besides: a
stale token is refreshed once, then an unusable one signs the tab out; Google sign-in;
the countdown's arithmetic on the server's clock; no request leaves the origin.

Screenshots of each step: test-artifacts/playerui/*.png."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from myapi.providers.eod.sandbox import SandboxEodProvider
from myapi.slots.service import CooldownActiveError
from tests.playerui.conftest import Game, shot, sign_in
from tests.support.browser import (
    assert_an_unusable_session_signs_out,
    assert_one_refresh_then_sign_out_revokes,
    consent_at_google,
)
from tests.support.fake_oauth import google_user

DAY = date(2026, 11, 23)
NEXT_DAY = date(2026, 11, 24)
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "META"]
AFTER_CUTOFF = datetime(2026, 11, 23, 14, 26, tzinfo=UTC)  # 23:26 KST, cutoff 23:25
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 06:30 KST Tuesday, closed 06:00
EMAIL = "phone.player@example.com"
NICKNAME = "phone_player"
REWARD = {"sku": "CAFE-LATTE", "title": "Café latte", "cost_points": 500, "stock": 5, "vendor": "sandbox"}
WIN_POINTS = 50
SIGNUP_BONUS = 1000


def _ready(page: Page, view: str) -> None:
    page.locator(f"section[data-view={view}][data-state=ready]").wait_for()


def _tab(page: Page, view: str) -> None:
    page.locator(f"nav a[data-tab={view}]").click()
    _ready(page, view)


def _row(page: Page, symbol: str) -> Any:
    return page.locator(f"[data-section=board] li[data-symbol={symbol}]")


def _other(choice: str) -> str:
    return "DOWN" if choice == "UP" else "UP"


def _same_origin_urls(page: Page) -> list[str]:
    """Every src / href of the DOM that points outside the page's origin (none expected)."""
    outside: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('[src], [href]')]
            .map(e => new URL(e.getAttribute('src') || e.getAttribute('href'), location.href))
            .filter(u => u.origin !== location.origin).map(u => u.href)"""
    )
    return outside


def _open_the_day(game: Game, admin: dict[str, str]) -> None:
    """The day's universe set by an operator, then opened by the scheduler's tick (the
    previous close fetched from the sandbox for the baselines)."""
    r = game.http.post("/admin/universe/upsert", json={"trading_day": DAY.isoformat(), "symbols": SYMBOLS},
                       headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    r = game.http.post("/admin/rewards/inventory", json=REWARD, headers=admin)
    assert r.status_code == 200, r.text
    steps = [a["step"] for a in game.tick()]
    assert "open" in steps, steps
    session = game.get("/v1/session/today")
    assert (session["trading_day"], session["phase"], session["can_predict"]) == (
        DAY.isoformat(),
        "PREDICT",
        True,
    )


def _right_calls(game: Game) -> dict[str, str]:
    """The call that wins for each symbol: the sandbox's close of the day against the
    baseline the page shows (what a prediction made now is judged against)."""
    sandbox = SandboxEodProvider()
    calls = {}
    for item in game.get("/v1/universe/today")["items"]:
        baseline, close = Decimal(item["baseline_price"]), sandbox.close(item["symbol"], DAY)
        if close != baseline:
            calls[item["symbol"]] = "UP" if close > baseline else "DOWN"
    assert len(calls) >= 4, calls
    return calls


def test_a_player_plays_a_day_from_sign_in_to_settled_results_and_a_reward(page: Page, game: Game) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    admin = game.login("ops.playerui@example.com", role="ADMIN")
    _open_the_day(game, admin)
    right = _right_calls(game)
    a, b, c, d = list(right)[:4]

    # Sign in with the dev-login form.
    page.goto(f"{game.url}/")
    page.locator("form[data-form=dev-login]").wait_for()
    assert _same_origin_urls(page) == []
    shot(page, "01-sign-in")
    sign_in(page, game, EMAIL, NICKNAME)
    me = game.login(EMAIL)
    expect(page.locator("#points-chip")).to_have_text(f"{SIGNUP_BONUS:,} pts")

    # Today's session: the day, its phase and the countdown to 23:25 KST from the
    # server's 10:00 (13:25:00, ticking down between the polls that reset it).
    session = page.locator("[data-section=session]")
    expect(session).to_have_attribute("data-phase", "PREDICT")
    expect(session).to_have_attribute("data-trading-day", DAY.isoformat())
    expect(session.locator("[data-phase-badge]")).to_have_text("PREDICT")
    expect(session.locator("[data-countdown=cutoff]")).to_have_text(re.compile(r"^13:2[45]:\d\d$"))
    expect(session.locator("[data-server-clock]")).to_have_text(re.compile(r"^Mon 23 Nov 10:00:\d\d KST$"))
    expect(page.locator("[data-section=board] li.symbol")).to_have_count(len(SYMBOLS))
    expect(page.locator("[data-section=slots]")).to_have_attribute("data-available", "3")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone's width
    shot(page, "02-today-open")

    # Other players call some symbols too (the crowd).
    bots = [game.login(f"bot{i}.playerui@example.com") for i in range(3)]
    bot_calls = [(0, a, "UP"), (0, b, "DOWN"), (1, a, "UP"), (1, b, "UP"), (2, a, "DOWN"), (2, c, "UP")]
    for i, symbol, call in bot_calls:
        r = game.http.post(f"/v1/predictions/{symbol}", json={"choice": call}, headers=bots[i])
        assert r.status_code == 202, r.text

    # Three calls: a right; b wrong, then switched; c wrong, cancelled, called again right.
    _row(page, a).locator(f"button[data-action={right[a].lower()}]").click()
    expect(_row(page, a)).to_have_attribute("data-choice", right[a])
    expect(page.locator("#toast")).to_contain_text(f"{a} ")
    _row(page, b).locator(f"button[data-action={_other(right[b]).lower()}]").click()
    expect(_row(page, b)).to_have_attribute("data-choice", _other(right[b]))
    _row(page, b).locator("button[data-action=change]").click()
    expect(_row(page, b)).to_have_attribute("data-choice", right[b])
    expect(page.locator("#toast")).to_contain_text(f"{b} switched to")
    _row(page, c).locator(f"button[data-action={_other(right[c]).lower()}]").click()
    expect(_row(page, c)).to_have_attribute("data-choice", _other(right[c]))
    expect(page.locator("[data-section=slots]")).to_have_attribute("data-available", "0")
    _row(page, c).locator("button[data-action=cancel]").click()
    expect(page.locator(f"[data-section=board] li[data-symbol={c}]:not([data-choice])")).to_have_count(1)
    expect(page.locator("[data-section=slots]")).to_have_attribute("data-available", "1")
    _row(page, c).locator(f"button[data-action={right[c].lower()}]").click()
    expect(_row(page, c)).to_have_attribute("data-choice", right[c])

    # Out of slots: the cooldown runs, the page says so; a fourth call is refused with
    # the API's own code and message.
    slots = page.locator("[data-section=slots]")
    expect(slots).to_have_attribute("data-available", "0")
    expect(slots.locator("[data-no-slot]")).to_be_visible()
    expect(slots.locator("[data-cooldown]")).to_have_text(re.compile(r"^[45]:\d\d$"))
    shot(page, "03-three-calls-no-slot")
    _row(page, d).locator(f"button[data-action={_other(right[d]).lower()}]").click()
    toast = page.locator("#toast")
    expect(toast).to_have_attribute("data-kind", "error")
    expect(toast).to_have_attribute("data-code", "PRED_003")
    expect(toast).to_contain_text(f"PRED_003 {CooldownActiveError.message}. Next free slot at 10:05:00 KST.")
    expect(_row(page, d)).not_to_have_attribute("data-choice", re.compile(".+"))
    shot(page, "04-no-slot-refused")

    # An ad (the development receipt, then the unlock) gives a slot: the fourth call.
    slots.locator("button[data-action=watch-ad]").click()
    expect(toast).to_have_text(re.compile(r"Ad watched: \+1 slot \(1 free\)"))
    expect(slots).to_have_attribute("data-available", "1")
    _row(page, d).locator(f"button[data-action={_other(right[d]).lower()}]").click()
    expect(_row(page, d)).to_have_attribute("data-choice", _other(right[d]))
    expect(page.locator("[data-section=mine] li[data-prediction]")).to_have_count(4)
    shot(page, "05-ad-and-fourth-call")
    mine = {
        p["symbol"]: p
        for p in game.get("/v1/predictions/me", me)["predictions"]
        if p["status"] != "CANCELLED"
    }
    assert {s: p["choice"] for s, p in mine.items()} == {
        a: right[a],
        b: right[b],
        c: right[c],
        d: _other(right[d]),
    }
    status = game.get("/v1/ads/status", me)
    assert (status["ad_unlocks_used"], status["used"], status["available"]) == (1, 4, 0)

    # The cutoff (the scheduler's tick past 23:25 KST) closes the board on the page,
    # without a reload: no buttons, phase SETTLE.
    page.evaluate("window.oxuNoReload = true")
    game.clock.set(AFTER_CUTOFF)
    assert "cutoff" in [a["step"] for a in game.tick()]
    expect(session).to_have_attribute("data-phase", "SETTLE")
    expect(session.locator("[data-phase-badge]")).to_have_text("SETTLE")
    expect(session.locator("[data-closed]")).to_contain_text("Board closed")
    expect(page.locator("[data-section=board]")).to_have_attribute("data-open", "false")
    expect(page.locator("main button")).to_have_count(0)
    expect(page.locator("[data-section=slots]")).to_have_count(0)
    expect(page.locator("[data-section=mine] li[data-status=PENDING]")).to_have_count(4)
    assert page.evaluate("window.oxuNoReload") is True
    shot(page, "06-board-closed")

    # After the close: EOD fetch, settlement and its follow-up through the queues. The
    # page moves on to the next day by itself.
    game.clock.set(AFTER_CLOSE)
    game.tick()
    settled = game.get(f"/v1/settlements/{DAY.isoformat()}")
    assert settled["settled_at"] is not None
    expect(session).to_have_attribute("data-trading-day", NEXT_DAY.isoformat())
    assert page.evaluate("window.oxuNoReload") is True

    # Results: my outcome per symbol, as the API judged them, and the crowd's split.
    me = game.login(EMAIL)  # the morning's access token has expired (the page refreshed its own)
    _tab(page, "results")
    day_predictions = game.get("/v1/predictions/me", me, trading_day=DAY.isoformat())["predictions"]
    mine = {p["symbol"]: p for p in day_predictions if p["status"] != "CANCELLED"}
    assert {s: p["status"] for s, p in mine.items()} == {
        a: "CORRECT",
        b: "CORRECT",
        c: "CORRECT",
        d: "INCORRECT",
    }
    day_card = page.locator(f"article[data-day='{DAY.isoformat()}']")
    for symbol, prediction in mine.items():
        row = day_card.locator(f"li[data-symbol={symbol}]")
        expect(row).to_have_attribute("data-my-status", prediction["status"])
        expect(row.locator(".my-result [data-status]")).to_have_text(prediction["status"])
        # Judged against the call's own baseline, which the row names.
        expect(row.locator(".my-result [data-baseline]")).to_have_attribute(
            "data-baseline", str(prediction["baseline_price"])
        )
    expect(day_card.locator("[data-summary]")).to_have_attribute("data-wins", "3")
    expect(day_card.locator("[data-summary]")).to_have_attribute("data-points", str(3 * WIN_POINTS))
    # The symbols the player did not call are folded under one line, closed.
    others = day_card.locator("details.others")
    expect(others).to_have_attribute("data-others", str(len(SYMBOLS) - len(mine)))
    assert others.evaluate("d => d.open") is False
    crowd = {s["symbol"]: s for s in game.get(f"/v1/crowd/{DAY.isoformat()}")["symbols"]}
    ups_of_a = [call for _, symbol, call in bot_calls if symbol == a] + [right[a]]
    assert (crowd[a]["up"], crowd[a]["down"]) == (ups_of_a.count("UP"), ups_of_a.count("DOWN"))
    for symbol, counts in crowd.items():
        split = day_card.locator(f"li[data-symbol={symbol}] .crowd")
        expect(split).to_have_attribute("data-crowd-up", str(counts["up"]))
        expect(split).to_have_attribute("data-crowd-down", str(counts["down"]))
    expect(day_card.locator(f"li[data-symbol={a}] .crowd-text")).to_contain_text(
        f"{crowd[a]['participants']} players"
    )
    shot(page, "07-results")

    # Points: the win points in the balance, each win in the ledger.
    balance = SIGNUP_BONUS + 3 * WIN_POINTS
    _tab(page, "points")
    expect(page.locator("[data-section=balance]")).to_have_attribute("data-balance", str(balance))
    expect(page.locator("#points-chip")).to_have_text(f"{balance:,} pts")
    ledger = game.get("/v1/points/ledger", me)
    wins = [e for e in ledger if e["reason"] == "prediction_win"]
    assert sorted(e["symbol"] for e in wins) == sorted([a, b, c])
    for entry in wins:
        row = page.locator(f"li[data-entry='{entry['id']}']")
        expect(row).to_have_attribute("data-reason", "prediction_win")
        expect(row.locator("[data-delta]")).to_have_text(f"+{WIN_POINTS}")
    expect(page.locator("li[data-reason=signup_bonus]")).to_have_count(1)
    shot(page, "08-points")

    # Ranks: my standing as the leaderboard has it, my row marked.
    standing = game.get("/v1/leaderboard/me", me, period="week")
    assert standing["ranked"] and standing["points"] == 3 * WIN_POINTS
    _tab(page, "ranks")
    expect(page.locator("[data-section=my-rank]")).to_have_attribute("data-rank", str(standing["rank"]))
    expect(page.locator("[data-my-rank]")).to_have_text(f"#{standing['rank']}")
    my_row = page.locator("ol.leaders li[data-me=true]")
    expect(my_row).to_have_attribute("data-nickname", NICKNAME)
    expect(my_row).to_have_attribute("data-rank", str(standing["rank"]))
    expect(page.locator("ol.leaders li")).to_have_count(standing["ranked_players"])
    shot(page, "09-ranks")

    # Inbox: the day's results notification, marked read from the page.
    unread = game.get("/v1/notifications/unread-count", me)["unread"]
    assert unread >= 1
    expect(page.locator("#unread")).to_have_text(str(unread))
    _tab(page, "inbox")
    note = page.locator("li[data-category=SETTLEMENT]")
    expect(note).to_have_attribute("data-read", "false")
    results_note = next(n for n in game.get("/v1/notifications", me) if n["category"] == "SETTLEMENT")
    assert results_note["data"] == {"trading_day": DAY.isoformat(), "predictions": 4, "wins": 3, "voids": 0,
                                    "points": 3 * WIN_POINTS}  # fmt: skip
    expect(note).to_contain_text(results_note["title"])
    expect(note).to_contain_text(results_note["body"])
    shot(page, "10-inbox")
    note.locator("button[data-action=mark-read]").click()
    expect(page.locator("li[data-category=SETTLEMENT]")).to_have_attribute("data-read", "true")
    assert game.get("/v1/notifications/unread-count", me)["unread"] == unread - 1
    if unread == 1:
        expect(page.locator("#unread")).to_be_hidden()
    else:
        expect(page.locator("#unread")).to_have_text(str(unread - 1))

    # Rewards: redeem (asked twice), then the status live until ISSUED, with the code.
    _tab(page, "rewards")
    item = page.locator(f"li[data-sku={REWARD['sku']}]")
    item.locator("button[data-action=redeem]").click()
    item.locator("button[data-action=confirm-redeem]").click()
    live = page.locator("[data-section=live-redemption] [data-redemption]")
    expect(live).to_have_attribute("data-status", "REQUESTED")
    game.drain()  # the saga: points held, stock reserved, the sandbox vendor's code
    expect(live).to_have_attribute("data-status", "ISSUED")
    redemption = game.get(f"/v1/rewards/redemptions/{live.get_attribute('data-redemption')}", me)
    assert redemption["status"] == "ISSUED" and redemption["code"]
    expect(live.locator("[data-gift-code]")).to_have_text(redemption["code"])
    expect(page.locator("#toast")).to_contain_text("issued")
    expect(page.locator("#points-chip")).to_have_text(f"{balance - REWARD['cost_points']:,} pts")
    # What is left to spend moved with it, without leaving the tab.
    expect(page.locator("[data-spendable]")).to_have_attribute(
        "data-spendable", str(balance - REWARD["cost_points"])
    )
    shot(page, "11-reward-issued")
    _tab(page, "points")
    expect(page.locator("[data-section=balance]")).to_have_attribute(
        "data-balance", str(balance - REWARD["cost_points"])
    )
    expect(page.locator("li[data-reason=reward_redemption] [data-delta]")).to_have_text(
        f"−{REWARD['cost_points']}"
    )

    # Nothing left the origin, and the page called the public API only.
    paths = [urlsplit(url).path for url in requests]
    assert all(url.startswith(f"{game.url}/") for url in requests), [
        u for u in requests if not u.startswith(game.url)
    ]
    assert {p for p in paths if not (p == "/" or p.startswith(("/assets/", "/v1/")))} == set()
    assert page.evaluate("window.oxuNoReload") is True


def test_a_stale_token_is_refreshed_once_and_sign_out_ends_the_session(page: Page, game: Game) -> None:
    sign_in(page, game, "refresh.player@example.com")
    assert_one_refresh_then_sign_out_revokes(
        page, game.http, prefix="oxu.player", url=f"{game.url}/#/points", view="points"
    )


def test_an_unusable_session_signs_the_tab_out_with_the_reason(page: Page, game: Game) -> None:
    """A 401 whose one refresh fails too: back to the sign-in, with the reason."""
    assert_an_unusable_session_signs_out(
        page, prefix="oxu.player", page_url=f"{game.url}/", url=f"{game.url}/#/points"
    )
    shot(page, "12-signed-out")


def test_google_sign_in_returns_to_the_page_signed_in(page: Page, game: Game) -> None:
    player = google_user("g-player-1", "google.player@example.com", "Google Player")
    consent_at_google(page, game.google, player)
    page.goto(f"{game.url}/")
    page.locator("button[data-provider=google]").click()
    _ready(page, "today")
    # A first sign-in: the signup bonus; the single-use code is gone from the address bar.
    expect(page.locator("#points-chip")).to_have_text(f"{SIGNUP_BONUS:,} pts")
    assert "code=" not in page.url and page.url == f"{game.url}/#/today"


def test_the_countdown_runs_on_the_server_clock_at_its_speed(page: Page, game: Game) -> None:
    """server-now = server_time + real time since the answer x clock_speed: a demo clock
    at 1000x counts 1000 simulated seconds per real second, whatever the device's clock."""
    page.goto(f"{game.url}/")
    build = page.evaluate(
        "document.querySelector('script[type=module]').src.split('/assets/')[1].split('/')[0]"
    )
    result = page.evaluate(
        """async (build) => {
            const m = await import(`/assets/${build}/clock.js`);
            const at = "2026-11-23T23:24:00+09:00";
            return {
                still: m.serverNowAt(at, 1, 5000, 5000),
                real: m.serverNowAt(at, 1, 5000, 7500),
                demo: m.serverNowAt(at, 1000, 5000, 5060),
                left: m.fmtCountdown(m.remainingMs("2026-11-23T23:25:00+09:00",
                                                   m.serverNowAt(at, 1000, 0, 30))),
                hours: m.fmtCountdown(13 * 3600 * 1000 + 25 * 60 * 1000),
                over: m.fmtCountdown(-5000),
            };
        }""",
        build,
    )
    at = datetime(2026, 11, 23, 14, 24, tzinfo=UTC).timestamp() * 1000
    expected = {"still": at, "real": at + 2500, "demo": at + 60_000}
    assert result == {**expected, "left": "0:30", "hours": "13:25:00", "over": "0:00"}


def test_watch_an_ad_is_hidden_where_the_development_receipt_is_not_served(page: Page, game: Game) -> None:
    """A server without POST /v1/ads/dev-receipt (production) answers it 404: the page
    says where ads are watched and offers the button no more."""
    # A day open for predictions: the first day (run alone), else the next one.
    for at in (game.clock.now(), datetime(2026, 11, 24, 1, 0, tzinfo=UTC)):
        if game.get("/v1/session/today")["can_predict"]:
            break
        game.clock.set(at)
        game.tick()
    assert game.get("/v1/session/today")["can_predict"] is True

    def not_here(route: Route) -> None:
        error = {"code": "SYS_404", "message": "Not found", "details": None}
        body = {"success": False, "data": None, "error": error, "meta": {}}
        route.fulfill(status=404, content_type="application/json", body=json.dumps(body))

    page.route(f"{game.url}/v1/ads/dev-receipt", not_here)
    sign_in(page, game, "noads.player@example.com")
    page.locator("button[data-action=watch-ad]").click()
    expect(page.locator("#toast")).to_have_text(re.compile("Ads are watched in the mobile app"))
    expect(page.locator("button[data-action=watch-ad]")).to_have_count(0)
    assert game.get("/v1/ads/status", game.login("noads.player@example.com"))["ad_unlocks_used"] == 0
