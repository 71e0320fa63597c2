"""Prometheus metrics, scraped over HTTP from the real service on the fake Telegram: posts
stored by source, alerts queued, messages sent by kind, the outbox gauges, a channel's lag,
the reconcile and alert-latency histograms, flood waits by client."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import httpx
from telethon.tl import functions

from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(env: Env) -> dict[str, float]:
    """Every sample of /metrics, by its name with labels."""
    response = httpx.get(f"http://127.0.0.1:{env.running.metrics_port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def metrics_env(env: Env) -> None:
    await env.stop_app()
    env.settings["METRICS_PORT"] = str(free_port())
    await env.start_app()


async def test_metrics_count_what_the_service_did(env: Env) -> None:
    await metrics_env(env)
    before = scrape(env)
    assert before["chanwatch_alerts_queued_total"] == 0
    assert before["chanwatch_reconcile_seconds_count"] >= 0
    await ask(env, env.admin, "/watch @news_test")  # its old post is backfilled
    await ask(env, env.admin, "/alert дрон")
    env.world.post(env.news, "Дрон над Шебекино")
    await wait_for(lambda: env.alerts_to(ADMIN))

    async def counted() -> bool:
        return scrape(env).get('chanwatch_messages_sent_total{kind="alert"}', 0) == 1
    await wait_until(counted)
    now = scrape(env)
    assert now['chanwatch_posts_stored_total{source="live"}'] == 1
    assert now['chanwatch_posts_stored_total{source="backfill"}'] == 1
    assert now["chanwatch_alerts_queued_total"] == 1
    assert now["chanwatch_alert_latency_seconds_count"] == 1
    assert now["chanwatch_alert_latency_seconds_sum"] < 5  # from the post's date (whole s)
    assert now['chanwatch_alert_latency_seconds_bucket{le="+Inf"}'] == 1
    assert now["chanwatch_reconcile_seconds_count"] >= 1  # the catch-up at start
    await env.running.refresh_metrics()
    gauges = scrape(env)
    assert gauges["chanwatch_outbox_pending"] == 0
    assert gauges["chanwatch_outbox_oldest_seconds"] == 0
    assert gauges['chanwatch_channel_lag_seconds{channel="@news_test"}'] == 0


async def test_a_channel_that_cannot_be_caught_up_shows_its_lag(env: Env) -> None:
    await metrics_env(env)
    await ask(env, env.admin, "/watch @news_test")
    env.world.fail_channel(env.news.id, functions.messages.GetHistoryRequest, "INTERNAL",
                           code=500)
    env.world.post(env.news, "Пост, который не дошёл", deliver=False)  # missed live
    await env.running.run_reconcile("test")  # sees it, cannot read it
    await env.running.refresh_metrics()
    await wait_until(_later(env), within=5)
    lag = scrape(env)['chanwatch_channel_lag_seconds{channel="@news_test"}']
    assert lag >= 1.0
    env.world.heal_channel(env.news.id)
    await env.running.run_reconcile("test")
    await env.running.refresh_metrics()
    assert scrape(env)['chanwatch_channel_lag_seconds{channel="@news_test"}'] == 0


def _later(env: Env) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        await env.running.refresh_metrics()
        return scrape(env)['chanwatch_channel_lag_seconds{channel="@news_test"}'] >= 1.0
    return probe


async def test_the_outbox_gauges_and_flood_waits(env: Env) -> None:
    await metrics_env(env)
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    env.world.fail_sends(ADMIN, "FLOOD_WAIT_3", code=420)  # the alert has to wait
    env.world.post(env.news, "Дрон над Белгородом")

    async def waiting() -> bool:
        await env.running.refresh_metrics()
        got = scrape(env)
        return got["chanwatch_outbox_pending"] == 1 and got[
            "chanwatch_outbox_oldest_seconds"] >= 1
    await wait_until(waiting, within=5)

    async def flood_waited() -> bool:  # when its turn comes (the chat's budget first)
        return scrape(env)['chanwatch_floodwaits_total{client="bot"}'] == 1
    await wait_until(flood_waited, within=5)
    assert scrape(env)['chanwatch_floodwaits_total{client="user"}'] == 0
    await wait_for(lambda: env.alerts_to(ADMIN), within=10)
    await env.running.refresh_metrics()
    assert scrape(env)["chanwatch_outbox_pending"] == 0


async def test_no_port_no_server(env: Env) -> None:
    assert env.running.metrics is None and env.running.metrics_port == 0
