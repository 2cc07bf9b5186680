"""The console in headless Chromium: an operator signs in on the page (dev login, or
Google through the provider's redirect), the dashboard's charts are drawn from the
seeded week, a dead letter is redriven from the page, and a player is refused
everywhere with no data on screen."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect
from sqlalchemy import text

from myapi.providers.queue import dlq_name_for, make_sqs_client
from tests.adminui.conftest import Console, sign_in
from tests.adminui.seed import SYMBOLS, WEEK
from tests.support.browser import (
    assert_an_unusable_session_signs_out,
    assert_one_refresh_then_sign_out_revokes,
    consent_at_google,
)
from tests.support.fake_oauth import google_user

VIEW_READY = "section[data-view={view}][data-state=ready]"


def _ready(page: Page, view: str) -> None:
    page.locator(VIEW_READY.format(view=view)).wait_for()


def _points(page: Page, chart: str) -> list[dict[str, str | None]]:
    """Every point of a line chart: its day, value and tooltip (one round trip)."""
    points: list[dict[str, str | None]] = page.locator(
        f"figure[data-chart={chart}] svg circle.point"
    ).evaluate_all(
        "els => els.map(e => ({day: e.dataset.day, value: e.dataset.value,"
        " title: e.querySelector('title').textContent}))"
    )
    return points


def _bars(page: Page, chart: str) -> dict[str, dict[str, str]]:
    """Every bar of a bar chart by label: its value, width and tooltip."""
    bars: list[dict[str, str]] = page.locator(f"figure[data-chart={chart}] rect.bar").evaluate_all(
        "els => els.map(e => ({label: e.dataset.label, value: e.dataset.value,"
        " width: e.getAttribute('width'), title: e.querySelector('title').textContent}))"
    )
    return {bar["label"]: bar for bar in bars}


def _show_week(page: Page) -> None:
    form = page.locator("form[data-form=dashboard]")
    form.locator("input[name=from]").fill(WEEK[0].isoformat())
    form.locator("input[name=to]").fill(WEEK[-1].isoformat())
    form.locator("button[type=submit]").click()
    expect(page.locator("figure[data-chart=dau] circle.point")).to_have_count(len(WEEK))
    _ready(page, "dashboard")


def test_an_admin_signs_in_and_the_dashboard_charts_the_seeded_week(page: Page, console: Console) -> None:
    sign_in(page, console, "ops.chart@example.com")
    _ready(page, "dashboard")
    expect(page.locator("#who-name")).to_contain_text("ops.chart@example.com")
    _show_week(page)
    api = console.api("/admin/dashboard", **{"from": WEEK[0].isoformat(), "to": WEEK[-1].isoformat()})

    # One point per trading day of the week, each at the seeded figure, in its tooltip.
    dau = _points(page, "dau")
    assert [p["day"] for p in dau] == [d.isoformat() for d in WEEK]
    assert [int(str(p["value"])) for p in dau] == [d.players for d in console.week] == [3, 4, 5, 6, 7]
    assert dau[0]["title"] == f"{WEEK[0].isoformat()}: 3"
    predictions = _points(page, "predictions")
    assert [int(str(p["value"])) for p in predictions] == [d.predictions for d in console.week]
    assert predictions[-1]["title"] == f"{WEEK[-1].isoformat()}: {console.week[-1].predictions}"
    win = _points(page, "win_rate")
    expected_rates = [d.correct / d.decided for d in console.week]
    assert [float(str(p["value"])) for p in win] == [float(p["win_rate"]) for p in api["series"]]
    assert [round(float(str(p["value"])), 6) for p in win] == [round(r, 6) for r in expected_rates]
    assert win[0]["title"] == f"{WEEK[0].isoformat()}: {expected_rates[0] * 100:.1f}%"
    # The line goes through every point.
    path = page.locator("figure[data-chart=dau] path.line").get_attribute("d") or ""
    assert path.count("M") == 1 and path.count("L") == len(WEEK) - 1

    # Totals as the API states them.
    total = page.locator(".card[data-metric=predictions] .value")
    assert total.get_attribute("data-value") == str(sum(d.predictions for d in console.week))

    # A bar per symbol, its length from its figure; the win-rate bars on a 0..1 scale.
    bars = _bars(page, "symbol_participants")
    by_symbol = {s["symbol"]: s for s in api["symbols"]}
    assert set(bars) == set(SYMBOLS) == set(by_symbol)
    for symbol, bar in bars.items():
        assert float(bar["value"]) == by_symbol[symbol]["participants"]
        assert f"{sum(d.by_symbol.get(symbol, 0) for d in console.week)} predictions" in bar["title"]
    most = max(by_symbol, key=lambda s: by_symbol[s]["participants"])
    assert float(bars[most]["width"]) == max(float(b["width"]) for b in bars.values()) > 0
    rates = _bars(page, "symbol_win_rate")
    assert {s: float(b["value"]) for s, b in rates.items()} == {
        s: x["win_rate"] for s, x in by_symbol.items()
    }

    # Every queue with its DLQ, the outbox and the dead-letter gauges.
    queues = page.locator("figure[data-chart=queues] g.queue")
    assert queues.count() == len(api["queues"]) == len(console.settings.queue_names)
    for key in console.settings.queue_names:
        dead = page.locator(f"g.queue[data-queue={key}] rect[data-kind=dlq]")
        assert dead.get_attribute("data-value") == "0"
    lag = page.locator("figure[data-chart=outbox_lag] text.gauge-value")
    assert float(str(lag.get_attribute("data-value"))) == api["outbox"]["lag_seconds"]
    expect(page.locator("figure[data-chart=dlq_total] text.gauge-value")).to_have_text("0")

    # The last run of every job, the week's settlement among them.
    settle = page.locator("tr[data-job='settlement.run'] [data-status]")
    expect(settle).to_have_text("SUCCEEDED")


def test_every_tab_shows_its_data_to_an_admin(page: Page, console: Console) -> None:
    sku = {"sku": "ui-coffee", "title": "Coffee", "cost_points": 500, "stock": 10, "vendor": "sandbox"}
    r = console.http.post("/admin/rewards/inventory", json=sku, headers=console.admin_token())
    assert r.status_code == 200, r.text
    sign_in(page, console, "ops.tabs@example.com")
    _ready(page, "dashboard")

    page.locator("nav a[data-tab=jobs]").click()
    _ready(page, "jobs")
    runs = page.locator("tr[data-run]")
    expect(runs.first).to_be_visible()
    settled = page.locator("tr[data-run]", has_text="settlement.run")
    expect(settled).to_have_count(len(WEEK))
    expect(settled.first.locator("[data-status]")).to_have_text("SUCCEEDED")

    page.locator("nav a[data-tab=rewards]").click()
    _ready(page, "rewards")
    item = page.locator("tr[data-sku=UI-COFFEE]")
    expect(item.locator("[data-col=available]")).to_have_text("10")
    expect(item.locator("svg.meter rect.available")).to_have_attribute("data-value", "10")

    page.locator("nav a[data-tab=integrity]").click()
    _ready(page, "integrity")
    expect(page.locator(".summary [data-status]")).to_have_text("PASS")
    assert page.locator("article.check").count() == len(console.api("/admin/integrity")["checks"])

    page.locator("nav a[data-tab=audit]").click()
    _ready(page, "audit")
    expect(page.locator("tr[data-audit]", has_text="admin.reward_upsert")).to_have_count(1)
    assert page.locator("nav a[aria-current=page]").get_attribute("data-tab") == "audit"


def test_a_dead_letter_is_redriven_from_the_page_back_to_its_queue(page: Page, console: Console) -> None:
    sqs = make_sqs_client(console.settings)
    source = console.settings.queue_names["eod_fetch"]
    dlq_url = sqs.get_queue_url(QueueName=dlq_name_for(source))["QueueUrl"]
    source_url = sqs.get_queue_url(QueueName=source)["QueueUrl"]
    marker = {"topic": "eod.fetch", "payload": {"trading_day": "2026-11-20"}, "ui_test": "redrive-me"}
    sent = sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(marker))["MessageId"]

    sign_in(page, console, "ops.dlq@example.com")
    _ready(page, "dashboard")
    expect(page.locator("g.queue[data-queue=eod_fetch] rect[data-kind=dlq]")).to_have_attribute(
        "data-value", "1"
    )
    page.locator("nav a[data-tab=dlq]").click()
    _ready(page, "dlq")
    row = page.locator("tr[data-queue=eod_fetch]")
    expect(row.locator("[data-dlq-visible]")).to_have_text("1")
    row.locator("button[data-action=inspect]").click()
    letter = page.locator(f"tr[data-message='{sent}']")
    expect(letter).to_contain_text("redrive-me")
    letter.locator("input[type=checkbox]").check()
    page.locator("button[data-action=redrive-selected]").click()
    expect(page.locator("[data-outcome=redriven]")).to_contain_text("moved 1")
    expect(page.locator("tr[data-queue=eod_fetch] [data-dlq-visible]")).to_have_text("0")
    expect(page.locator(".detail[data-queue=eod_fetch][data-state=ready]")).to_contain_text("empty")

    # The message is back on its source queue, body intact; the DLQ holds nothing.
    back = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"]) for m in back] == [marker]
    for m in back:
        sqs.delete_message(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)
    # The redrive is in the audit log, and the page shows it there.
    page.locator("nav a[data-tab=audit]").click()
    _ready(page, "audit")
    audit = page.locator("form[data-form=audit]")
    audit.locator("input[name=action]").fill("admin.dlq_redrive")
    audit.locator("button[type=submit]").click()
    row = page.locator("tr[data-audit]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-col=actor]")).to_have_text(re.compile(r"^user:\d+$"))
    expect(row.locator("[data-col=status]")).to_have_text("200")
    expect(row.locator("[data-col=payload]")).to_contain_text(sent)


def test_an_admin_suspends_and_reactivates_a_player_from_the_page(page: Page, console: Console) -> None:
    sign_in(page, console, "ops.users@example.com")
    _ready(page, "dashboard")
    page.locator("nav a[data-tab=users]").click()
    form = page.locator("form[data-form=users]")
    form.locator("input[name=q]").fill("week.player7")
    form.locator("button[type=submit]").click()
    page.locator("tr[data-user] button[data-action=open]").click()
    card = page.locator(".user-card")
    expect(card).to_have_attribute("data-status", "ACTIVE")
    card.locator("input[name=reason]").fill("chargeback fraud")
    card.locator("button[data-action=suspend]").click()
    expect(page.locator(".user-card")).to_have_attribute("data-status", "SUSPENDED")
    expect(page.locator(".detail .notice")).to_contain_text("Suspended")
    with console.engine.connect() as conn:
        row = conn.execute(
            text("SELECT is_active, suspension_reason FROM crypto.users WHERE nickname = 'week_player7'")
        ).one()
    assert (row.is_active, row.suspension_reason) == (False, "chargeback fraud")

    card = page.locator(".user-card")
    expect(card.locator("button[data-action=suspend]")).to_be_disabled()
    card.locator("input[name=reason]").fill("refund confirmed")
    card.locator("button[data-action=reactivate]").click()
    expect(page.locator(".user-card")).to_have_attribute("data-status", "ACTIVE")
    with console.engine.connect() as conn:
        active = conn.execute(
            text("SELECT is_active FROM crypto.users WHERE email = 'week.player7@example.com'")
        ).scalar_one()
    assert active is True


def test_a_player_is_refused_on_every_tab_and_sees_no_data(page: Page, console: Console) -> None:
    sign_in(page, console, "player.console@example.com", role="USER")
    for view in ("dashboard", "jobs", "dlq", "audit", "rewards", "integrity", "users"):
        page.goto(f"{console.url}/admin/ui/#/{view}")
        if view == "users":
            form = page.locator("form[data-form=users]")
            form.locator("input[name=q]").fill("week")
            form.locator("button[type=submit]").click()
        section = page.locator(f"section[data-view={view}][data-state=error]")
        section.wait_for()
        error = section.locator(".error[data-code=AUTH_003]")
        expect(error).to_have_text("AUTH_003 Administrator role required")
        # No figure, no chart, no row of data.
        assert section.locator("svg, table, .card, figure, .user-card").count() == 0, view
    assert "week_player" not in page.content()


def test_a_stale_access_token_is_refreshed_once_and_sign_out_clears_the_tab(
    page: Page, console: Console
) -> None:
    sign_in(page, console, "ops.refresh@example.com")
    _ready(page, "dashboard")
    assert_one_refresh_then_sign_out_revokes(
        page, console.http, prefix="oxu.admin", url=f"{console.url}/admin/ui/#/integrity", view="integrity"
    )


def test_an_unusable_session_goes_back_to_the_sign_in(page: Page, console: Console) -> None:
    """A 401 whose refresh fails too: the tab is signed out, with the reason."""
    assert_an_unusable_session_signs_out(
        page, prefix="oxu.admin", page_url=f"{console.url}/admin/ui/", url=f"{console.url}/admin/ui/#/jobs"
    )


def test_google_sign_in_returns_to_the_console_signed_in(page: Page, console: Console) -> None:
    with console.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id, role) "
                "VALUES ('ops.google@example.com', 'ops_google', 'GOOGLE', 'g-ops-1', 'ADMIN')"
            )
        )

    consent_at_google(page, console.google, google_user("g-ops-1", "ops.google@example.com", "Ops Google"))
    page.goto(f"{console.url}/admin/ui/")
    page.locator("button[data-provider=google]").click()
    _ready(page, "dashboard")
    expect(page.locator("#who-name")).to_contain_text("ops.google@example.com")
    # The single-use code is gone from the address bar.
    assert "code=" not in page.url and page.url.endswith("/admin/ui/#/dashboard")
