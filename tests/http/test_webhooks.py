"""Webhooks over real HTTP on 127.0.0.1: payload shapes, status mapping, the URL guard."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.header
import email.utils
import ipaddress
import json
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.http.webhooks import (
    FORMATS,
    HttpWebhookSender,
    WebhookURLError,
    address_problem,
    check_url,
    check_url_syntax,
    clip,
    redact_url,
    resolve_host,
    retry_after_seconds,
    shape,
)
from bot.services.ports import FloodWait, PermanentSendError, TransientSendError
from tests.support.http_receiver import Receiver, Reply, closed_port

EVENT: dict[str, Any] = {
    "version": 1, "type": "alert", "chat_id": -100123, "sent_at": "2026-11-25T12:00:00+00:00",
    "channel": {"id": 1234567, "username": "rybar", "title": "Рыбарь"},
    "post": {"id": 6512, "url": "https://t.me/rybar/6512", "date": "2026-11-25T11:59:30+00:00",
             "text": "Дроны атаковали Шебекино этой ночью. @everyone", "views": 12300,
             "media": "photo", "forwarded_from": None, "edited": False},
    "rules": [{"number": 1, "expression": "дрон* AND Шебекино"}],
    "matched": ["дроны", "Шебекино"], "places": ["Шебекино"], "late": None,
}
SECRET = "T000/B000/s3cr3t-t0ken"


def long_event() -> dict[str, Any]:
    """The event with a post far longer than any format allows, full of astral characters."""
    event = copy.deepcopy(EVENT)
    event["post"]["text"] = "Шебекино 🛩️ дроны 👍🏽 " * 700
    return event


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def public(mapping: dict[str, list[str]]) -> Any:
    """A resolver answering from ``mapping`` (names that do not resolve raise gaierror)."""
    async def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return mapping[host]
    return resolve


@pytest_asyncio.fixture
async def hook() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # as the app builds it: explicit timeouts and limits; redirects on, to prove they are
    # refused per request anyway
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(2.0), limits=httpx.Limits(max_connections=10),
        follow_redirects=True, trust_env=False,
    ) as c:
        yield c


@pytest.fixture
def sender(client: httpx.AsyncClient) -> HttpWebhookSender:
    return HttpWebhookSender(client, allow_private=True)


# --- payload shapes, as received ---------------------------------------------------------


async def test_json_posts_the_event_unchanged(hook: Receiver, sender: HttpWebhookSender) -> None:
    await sender.post(hook.url + "/json", "json", EVENT)
    [got] = hook.requests
    assert got.method == "POST" and got.path == "/json"
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.json() == EVENT
    assert "Рыбарь".encode() in got.body  # UTF-8, not \u escapes
    assert got.headers["host"] == f"127.0.0.1:{hook.port}"


async def test_slack_text_links_the_post(hook: Receiver, sender: HttpWebhookSender) -> None:
    await sender.post(hook.url + "/slack", "slack", EVENT)
    payload = hook.requests[0].json()
    text = payload["text"]
    assert "<https://t.me/rybar/6512|Рыбарь>" in text
    assert "Шебекино" in text and "#1" in text and "`дрон* AND Шебекино`" in text


async def test_slack_escapes_control_sequences(sender: HttpWebhookSender) -> None:
    event = copy.deepcopy(EVENT)
    event["post"]["text"] = "<!channel> a & b > c"
    event["channel"]["title"] = "A|<b>"
    text = json.loads(shape("slack", event)[1])["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; a &amp; b &gt; c" in text
    assert "|A|&lt;b&gt;>" in text


async def test_discord_content_and_embed(hook: Receiver, sender: HttpWebhookSender) -> None:
    await sender.post(hook.url + "/discord", "discord", long_event())
    payload = hook.requests[0].json()
    assert utf16_len(payload["content"]) <= 2000
    assert "Рыбарь" in payload["content"]
    [embed] = payload["embeds"]
    assert embed["url"] == "https://t.me/rybar/6512"
    assert embed["title"] == "Рыбарь"
    assert embed["timestamp"] == "2026-11-25T11:59:30+00:00"
    assert 4000 < utf16_len(embed["description"]) <= 4096
    assert embed["description"].endswith("…")
    assert payload["allowed_mentions"] == {"parse": []}


async def test_ntfy_body_and_headers(hook: Receiver, sender: HttpWebhookSender) -> None:
    await sender.post(hook.url + "/topic", "ntfy", long_event())
    got = hook.requests[0]
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["click"] == "https://t.me/rybar/6512"
    assert got.headers["tags"] == "bell"
    title = got.headers["title"]
    assert title.isascii() and title.startswith("=?utf-8?b?")
    assert str(email.header.make_header(email.header.decode_header(title))) == "Рыбарь"
    assert 4000 < len(got.body) <= 4096
    text = got.body.decode("utf-8")  # strict: no sequence cut in half
    assert text.startswith("📍 Шебекино\nШебекино 🛩️ дроны")
    assert "…\nRule #1 дрон* AND Шебекино\nhttps://t.me/rybar/6512" in text


def test_ntfy_ascii_title_goes_as_is() -> None:
    event = copy.deepcopy(EVENT)
    event["channel"]["title"] = "War Monitor"
    headers, _ = shape("ntfy", event)
    assert headers["Title"] == "War Monitor"


def test_ntfy_long_title_is_split_into_short_encoded_words() -> None:
    event = copy.deepcopy(EVENT)
    event["channel"]["title"] = "Очень длинное название канала про всё на свете 🛰️" * 3
    title = shape("ntfy", event)[0]["Title"]
    assert all(len(word) <= 75 for word in title.split(" "))
    decoded = str(email.header.make_header(email.header.decode_header(title)))
    assert decoded == clip(event["channel"]["title"], 200)


@pytest.mark.parametrize("fmt", FORMATS)
def test_test_event_without_post_shapes_in_every_format(fmt: str) -> None:
    event = {"version": 1, "type": "test", "chat_id": -100123,
             "sent_at": "2026-11-25T12:00:00+00:00"}
    headers, body = shape(fmt, event)
    assert all(v.isascii() for v in headers.values())
    text = body.decode("utf-8")
    if fmt == "json":
        assert json.loads(text) == event
    else:
        assert "Test from chanwatch: this webhook works." in text
    if fmt == "ntfy":
        assert headers["Tags"] == "test_tube" and "Click" not in headers


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown webhook format"):
        shape("xml", EVENT)


async def test_unknown_format_is_permanent(hook: Receiver, sender: HttpWebhookSender) -> None:
    with pytest.raises(PermanentSendError):
        await sender.post(hook.url + "/", "xml", EVENT)
    assert hook.requests == []


# --- statuses ----------------------------------------------------------------------------


async def test_500_is_transient_then_200_delivers(hook: Receiver,
                                                  sender: HttpWebhookSender) -> None:
    hook.script("/flaky", Reply(500), Reply(200))
    with pytest.raises(TransientSendError, match="HTTP 500"):
        await sender.post(hook.url + "/flaky", "json", EVENT)
    await sender.post(hook.url + "/flaky", "json", EVENT)
    assert len(hook.to("/flaky")) == 2


async def test_429_is_flood_wait_for_retry_after(hook: Receiver,
                                                 sender: HttpWebhookSender) -> None:
    hook.script("/busy", Reply(429, {"Retry-After": "7"}), Reply(429), Reply(200))
    with pytest.raises(FloodWait) as caught:
        await sender.post(hook.url + "/busy", "json", EVENT)
    assert caught.value.seconds == 7
    with pytest.raises(FloodWait) as caught:
        await sender.post(hook.url + "/busy", "json", EVENT)
    assert caught.value.seconds == 60  # no Retry-After
    await sender.post(hook.url + "/busy", "json", EVENT)


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7), (" 7 ", 7), ("2.5", 3), ("0", 1), ("-5", 1), ("999999", 3600), (None, 60),
    ("", 60), ("soon", 60), ("nan", 60), ("inf", 60),
])
def test_retry_after_seconds(value: str | None, seconds: int) -> None:
    assert retry_after_seconds(value) == seconds


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 120, usegmt=True), now=now) == 120


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413])
async def test_4xx_is_permanent(hook: Receiver, sender: HttpWebhookSender, status: int) -> None:
    hook.script("/gone", Reply(status))
    with pytest.raises(PermanentSendError, match=f"HTTP {status}"):
        await sender.post(hook.url + "/gone", "json", EVENT)


@pytest.mark.parametrize("status", [502, 503])
async def test_5xx_is_transient(hook: Receiver, sender: HttpWebhookSender, status: int) -> None:
    hook.script("/down", Reply(status))
    with pytest.raises(TransientSendError, match=f"HTTP {status}"):
        await sender.post(hook.url + "/down", "json", EVENT)


async def test_redirect_is_permanent_and_not_followed(hook: Receiver,
                                                      sender: HttpWebhookSender) -> None:
    hook.script("/moved", Reply(302, {"Location": "/elsewhere"}))
    with pytest.raises(PermanentSendError, match="redirects are not followed"):
        await sender.post(hook.url + "/moved", "json", EVENT)
    assert [r.path for r in hook.requests] == ["/moved"]


async def test_connection_refused_is_transient(sender: HttpWebhookSender) -> None:
    with pytest.raises(TransientSendError, match="cannot connect"):
        await sender.post(f"http://127.0.0.1:{closed_port()}/hook", "json", EVENT)


async def test_timeout_is_transient(hook: Receiver) -> None:
    hook.script("/slow", Reply(200, delay=5))
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as client:
        sender = HttpWebhookSender(client, allow_private=True)
        with pytest.raises(TransientSendError, match="ReadTimeout"):
            await sender.post(hook.url + "/slow", "json", EVENT)


async def test_overall_deadline_is_transient(hook: Receiver, client: httpx.AsyncClient) -> None:
    hook.script("/slow", Reply(200, delay=5))
    sender = HttpWebhookSender(client, allow_private=True, deadline=0.2)
    with pytest.raises(TransientSendError, match=r"no answer within 0\.2 s"):
        await sender.post(hook.url + "/slow", "json", EVENT)


async def test_huge_answer_is_not_read(hook: Receiver, sender: HttpWebhookSender) -> None:
    hook.script("/big", Reply(200, body=b"x" * 5_000_000))
    await sender.post(hook.url + "/big", "json", EVENT)


# --- secrets stay out of logs and errors -------------------------------------------------


async def test_url_path_never_logged_nor_in_errors(hook: Receiver, sender: HttpWebhookSender,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"/services/{SECRET}"
    hook.script(path, Reply(200), Reply(404), Reply(500), Reply(302, {"Location": "/x"}),
                Reply(429))
    messages: list[str] = []
    for _ in range(5):
        try:
            await sender.post(hook.url + path + "?token=" + SECRET, "slack", EVENT)
        except Exception as exc:
            messages.append(str(exc))
    for url in (f"http://127.0.0.1:{closed_port()}{path}", f"http://nowhere.invalid{path}",
                f"ftp://127.0.0.1{path}"):
        try:
            await HttpWebhookSender(sender._client, allow_private=False).post(url, "json", EVENT)
        except Exception as exc:
            messages.append(str(exc))
    assert len(messages) == 7
    assert any(f"127.0.0.1:{hook.port}" in m for m in messages)
    # httpx itself logs every URL at INFO: configure_logging keeps "httpx" and "httpcore" at
    # WARNING; what this module (and the rest of the bot) logs must be clean at any level
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if not r.name.startswith(("httpx", "httpcore")))
    assert "webhook http://127.0.0.1" in logged
    assert "s3cr3t" not in logged and not any("s3cr3t" in m for m in messages)


def test_redact_url() -> None:
    assert redact_url(f"https://hooks.slack.com/services/{SECRET}") == "https://hooks.slack.com"
    assert redact_url("http://[::1]:8080/x?y") == "http://[::1]:8080"
    assert redact_url("not a url") == "<invalid URL>"


# --- the URL guard -----------------------------------------------------------------------


LOOPBACK_AND_PRIVATE = [
    "http://127.0.0.1/", "http://127.0.0.1:8080/hook", "http://10.0.0.5/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://169.254.169.254/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[::]/", "http://224.0.0.1/", "http://255.255.255.255/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://[2002:7f00:1::]/", "http://[64:ff9b::a00:5]/",
    "http://localhost/", "http://LOCALHOST./", "http://api.localhost/",
]


@pytest.mark.parametrize("url", LOOPBACK_AND_PRIVATE)
async def test_private_addresses_refused(url: str) -> None:
    with pytest.raises(WebhookURLError, match="public internet"):
        await check_url(url, allow_private=False)


@pytest.mark.parametrize("url", [u for u in LOOPBACK_AND_PRIVATE if "localhost" not in u])
async def test_private_addresses_allowed_when_operator_says_so(url: str) -> None:
    assert await check_url(url, allow_private=True) == check_url_syntax(url)


async def test_localhost_resolves_and_is_allowed_when_operator_says_so() -> None:
    assert await check_url("http://localhost:9/x", allow_private=True) == "http://localhost:9/x"
    assert set(await resolve_host("localhost", 80)) & {"127.0.0.1", "::1"}


@pytest.mark.parametrize("url", [
    "ftp://x", "not a url", "https://user:pw@hooks.example/", "https://user@hooks.example/",
    "http://0x7f.1/", "http://127.1/", "http://2130706433/", "http://0177.0.0.1/",
    "http://[fe80::1%25eth0]/", "http://hooks.example/a b", "http://evil.example\\@1.2.3.4/",
    "http:///path", "https://", "http://hooks.example:99999/", "http://-bad-.example/",
    "javascript:alert(1)", "file:///etc/passwd", "", "https://hooks.example/" + "a" * 2000,
])
async def test_malformed_urls_refused(url: str) -> None:
    with pytest.raises(WebhookURLError):
        check_url_syntax(url)
    with pytest.raises(WebhookURLError):
        await check_url(url, allow_private=True)


@pytest.mark.parametrize(("url", "normal"), [
    ("HTTPS://Hooks.Example.COM:443/T/x?y=1#frag", "https://hooks.example.com/T/x?y=1"),
    ("http://hooks.example", "http://hooks.example/"),
    ("  https://ntfy.example:8443/topic  ", "https://ntfy.example:8443/topic"),
    ("https://пример.рф/hook", "https://xn--e1afmkfd.xn--p1ai/hook"),
    ("http://[2001:DB8::0001]/", "http://[2001:db8::1]/"),
])
def test_syntax_normalises(url: str, normal: str) -> None:
    assert check_url_syntax(url) == normal


async def test_name_resolving_to_loopback_refused() -> None:
    resolve = public({"hooks.example": ["127.0.0.1"],
                      "mixed.example": ["93.184.215.14", "10.1.2.3"],
                      "good.example": ["93.184.215.14", "2606:4700:4700::1111"]})
    with pytest.raises(WebhookURLError, match=r"hooks\.example points to a loopback address"):
        await check_url("https://hooks.example/x", allow_private=False, resolve=resolve)
    with pytest.raises(WebhookURLError, match="private") as caught:
        await check_url("https://mixed.example/x", allow_private=False, resolve=resolve)
    assert "10.1.2.3" not in str(caught.value)  # internal DNS is not revealed
    assert await check_url("https://good.example/x", allow_private=False,
                           resolve=resolve) == "https://good.example/x"
    with pytest.raises(WebhookURLError, match="Cannot find the host"):
        await check_url("https://unknown.example/x", allow_private=False, resolve=resolve)


def test_address_problem_public_ones() -> None:
    for text in ("93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"):
        assert address_problem(ipaddress.ip_address(text)) is None


# --- delivery re-checks and pins the address ---------------------------------------------


async def test_post_refuses_private_address(hook: Receiver, client: httpx.AsyncClient) -> None:
    sender = HttpWebhookSender(client, allow_private=False)
    with pytest.raises(PermanentSendError, match="public internet"):
        await sender.post(hook.url + "/x", "json", EVENT)
    assert hook.requests == []


async def test_post_rechecks_dns(hook: Receiver, client: httpx.AsyncClient) -> None:
    # the name was public when it was added; now it points into the local network
    mapping = {"hooks.example": ["93.184.215.14"]}
    url = f"http://hooks.example:{hook.port}/x"
    assert await check_url(url, allow_private=False, resolve=public(mapping)) == url
    mapping["hooks.example"] = ["127.0.0.1"]
    sender = HttpWebhookSender(client, allow_private=False, resolve=public(mapping))
    with pytest.raises(PermanentSendError, match="loopback"):
        await sender.post(url, "json", EVENT)
    assert hook.requests == []


async def test_post_connects_to_the_checked_address(hook: Receiver,
                                                    client: httpx.AsyncClient) -> None:
    # "hooks.example" exists only for our resolver: the request can only arrive if httpx
    # connected to the address that was checked instead of resolving the name again
    resolve = public({"hooks.example": ["127.0.0.1"]})
    sender = HttpWebhookSender(client, allow_private=True, resolve=resolve)
    await sender.post(f"http://hooks.example:{hook.port}/pinned?k=v", "json", EVENT)
    [got] = hook.requests
    assert got.path == "/pinned?k=v"
    assert got.headers["host"] == f"hooks.example:{hook.port}"


async def test_post_tries_the_next_address(hook: Receiver, client: httpx.AsyncClient) -> None:
    resolve = public({"hooks.example": ["127.0.0.2", "127.0.0.1"]})
    sender = HttpWebhookSender(client, allow_private=True, resolve=resolve)
    await sender.post(f"http://hooks.example:{hook.port}/x", "json", EVENT)
    assert len(hook.requests) == 1


async def test_post_to_localhost_by_name(hook: Receiver, sender: HttpWebhookSender) -> None:
    await sender.post(f"http://localhost:{hook.port}/by-name", "json", EVENT)
    assert hook.requests[0].headers["host"] == f"localhost:{hook.port}"


async def test_dns_failure_is_transient(client: httpx.AsyncClient) -> None:
    sender = HttpWebhookSender(client, allow_private=False, resolve=public({}))
    with pytest.raises(TransientSendError, match="cannot resolve"):
        await sender.post("https://hooks.example/x", "json", EVENT)


# --- clipping ----------------------------------------------------------------------------


def test_clip_never_splits_characters() -> None:
    assert clip("short", 10) == "short"
    assert clip("abcdef", 4) == "abc…"
    # 👍🏽 is two UTF-16 pairs; the skin tone stays with its hand
    assert clip("ab👍🏽cd", 5) == "ab…"
    assert clip("ab👍🏽cd", 6) == "ab…"
    assert clip("ab👍🏽cd", 7) == "ab👍🏽…"
    assert clip("Шебекино", 5, unit="utf8") == "Ш…"
    assert clip("e\u0301" * 5, 4) == "e\u0301…"  # the accent stays with its letter
    assert clip("a  b" + "c" * 10, 4) == "a…"
    assert clip("ok 🇷🇺🇺🇦 end", 6) == "ok…"  # a flag is two regional indicators


# --- https: the name is verified although the address is pinned ---------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for hooks.example (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=hooks.example",
         "-addext", "subjectAltName=DNS:hooks.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


async def test_https_verifies_the_name_on_the_pinned_address(
        certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    resolve = public({"hooks.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    async with (Receiver(ssl=server_tls, keep_alive=True) as hook,
                httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)),
                                  timeout=2.0, trust_env=False) as client):
        sender = HttpWebhookSender(client, allow_private=True, resolve=resolve)
        await sender.post(f"https://hooks.example:{hook.port}/a", "json", EVENT)
        await sender.post(f"https://hooks.example:{hook.port}/b", "json", EVENT)
        assert [r.headers["host"] for r in hook.requests] == [f"hooks.example:{hook.port}"] * 2
        assert hook.tls_names == ["hooks.example", "hooks.example"]
        assert all(r.headers["connection"] == "close" for r in hook.requests)
        # same address, another name: its certificate is checked on a connection of its own
        # (a pooled connection opened for hooks.example must not carry it)
        with pytest.raises(TransientSendError, match="ConnectError"):
            await sender.post(f"https://other.example:{hook.port}/c", "json", EVENT)
        assert [r.path for r in hook.requests] == ["/a", "/b"]


async def test_http_keeps_connections_alive(client: httpx.AsyncClient) -> None:
    async with Receiver(keep_alive=True) as hook:
        sender = HttpWebhookSender(client, allow_private=True)
        for _ in range(3):
            await sender.post(hook.url + "/x", "json", EVENT)
        assert len(hook.requests) == 3 and hook.connections == 1


async def test_through_a_proxy_the_name_goes_to_the_proxy(
        hook: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # the operator's HTTP_PROXY (here: the receiver, which answers as a proxy would)
    monkeypatch.setenv("HTTP_PROXY", hook.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    resolve = public({"hooks.example": ["93.184.215.14"]})
    async with httpx.AsyncClient(timeout=2.0) as client:
        sender = HttpWebhookSender(client, allow_private=False, resolve=resolve)
        await sender.post("http://hooks.example/x?k=v", "json", EVENT)
        [got] = hook.requests
        assert got.path == "http://hooks.example/x?k=v"  # absolute form: the proxy resolves
        assert got.headers["host"] == "hooks.example"
        # the guard still applies to what the name resolves to here
        resolve_private = public({"hooks.example": ["10.0.0.7"]})
        with pytest.raises(PermanentSendError, match="private"):
            await HttpWebhookSender(client, allow_private=False, resolve=resolve_private).post(
                "http://hooks.example/x", "json", EVENT)
        assert len(hook.requests) == 1


async def test_slow_body_after_200_still_counts_as_delivered() -> None:
    # a receiver that answers 200 with headers at once but drips its body: delivered is
    # delivered (a retry would be a duplicate)
    done = asyncio.Event()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nx")
            await writer.drain()
            await reader.read()  # until the client gives up and closes
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            done.set()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=0.3) as client:
            await HttpWebhookSender(client, allow_private=True).post(
                f"http://127.0.0.1:{port}/drip", "json", EVENT)
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("late", "line"), [
    ("⏱ 12 min late: found when catching up", "⏱ 12 min late: found when catching up"),
    (725, "⏱ 12 min late"), (None, None),
])
def test_late_note(late: Any, line: str | None) -> None:
    event = copy.deepcopy(EVENT)
    event["late"] = late
    body = shape("ntfy", event)[1].decode()
    lines = body.split("\n")
    if line is None:
        assert not any(x.startswith("⏱") for x in lines)
    else:
        assert line in lines
