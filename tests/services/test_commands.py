"""The command router and handlers against a real database (Telegram side: see test_e2e.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.commands import COMMANDS, Services
from bot.guard import CommandRouter, Incoming
from bot.match import Lemmatizer
from bot.models import ChatKind, Role
from bot.services.access import AccessService
from bot.services.rules import RulesService
from bot.services.watch import WatchError, WatchService, parse_channel_target
from bot.store import Store
from tests.support.fakes import FakeClock, NoTelegram

ADMIN, MEMBER, STRANGER = 500, 600, 700


@pytest.fixture
async def router(store: Store, lemmatizer: Lemmatizer, clock: FakeClock) -> CommandRouter:
    rules = RulesService(store, lemmatizer)
    services = Services(store, AccessService(store, frozenset({ADMIN})),
                        WatchService(store, NoTelegram()), rules, ZoneInfo("UTC"))
    await store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    return CommandRouter(services, clock, bot_username="chanwatch_bot")


def msg(text: str, sender: int | None = ADMIN, chat: int | None = None,
        kind: ChatKind = ChatKind.PRIVATE) -> Incoming:
    return Incoming(text, sender, chat if chat is not None else (sender or -1), kind, None)


async def test_stranger_gets_one_polite_refusal(router: CommandRouter, clock: FakeClock) -> None:
    first = await router.handle(msg("/watch @kanal", STRANGER))
    assert first is not None and "private" in first and str(STRANGER) in first
    assert await router.handle(msg("/help", STRANGER)) is None
    clock.advance(hours=2)
    assert await router.handle(msg("/start", STRANGER)) is not None


async def test_anonymous_sender_is_refused(router: CommandRouter) -> None:
    reply = await router.handle(msg("/alert x", None, chat=-100123, kind=ChatKind.GROUP))
    assert reply is not None and "cannot tell who sent" in reply


async def test_unknown_command_and_non_commands(router: CommandRouter) -> None:
    assert await router.handle(msg("/frobnicate")) == (
        "Unknown command /frobnicate. /help lists what you can use."
    )
    assert await router.handle(msg("hello there")) is None
    assert await router.handle(msg("/help@other_bot")) is None
    assert await router.handle(msg("/help@chanwatch_bot")) is not None


async def test_admin_commands_need_admin_and_private_chat(router: CommandRouter) -> None:
    assert await router.handle(msg("/channels", MEMBER)) == "/channels is for admins only."
    reply = await router.handle(msg("/channels", ADMIN, chat=-42, kind=ChatKind.GROUP))
    assert reply == "/channels works only in a private chat with me."
    assert await router.handle(msg("/channels")) == "No channels yet. Add one with /watch @name."


async def test_help_lists_only_what_the_caller_may_use(router: CommandRouter) -> None:
    member_help = await router.handle(msg("/help", MEMBER))
    admin_help = await router.handle(msg("/help", ADMIN))
    assert member_help is not None and admin_help is not None
    assert "/alert" in member_help and "/watch" not in member_help
    for command in COMMANDS:
        assert f"/{command.name}" in admin_help


async def test_alert_rules_delete_cycle(router: CommandRouter, store: Store) -> None:
    reply = await router.handle(msg('/alert Белгород -учения', MEMBER))
    assert reply == ("✅ Rule #1 saved. Understood as: <code>белгород AND NOT учения</code>\n"
                     "New posts of watched channels are matched against it.")
    await router.handle(msg('/alert "сбит беспилотник"', MEMBER))
    listing = await router.handle(msg("/rules", MEMBER))
    assert listing == ("<b>Rules</b>\n#1 <code>Белгород -учения</code> (both)\n"
                       "#2 <code>&quot;сбит беспилотник&quot;</code> (both)")
    assert await router.handle(msg("/delete 1", MEMBER)) == (
        "🗑 Rule #1 <code>Белгород -учения</code> deleted."
    )
    assert await router.handle(msg("/delete 1", MEMBER)) == (
        "No rule #1 in this chat. /rules lists them."
    )
    assert await router.handle(msg("/delete one", MEMBER)) == (
        "Usage: /delete &lt;n&gt; — the number shown by /rules"
    )
    # rules belong to the chat: the admin's private chat has none
    assert "No rules" in (await router.handle(msg("/rules", ADMIN)) or "")
    assert [r.number for r in await store.rules.of_chat(MEMBER)] == [2]


async def test_malformed_rule_is_explained(router: CommandRouter, store: Store) -> None:
    reply = await router.handle(msg('/alert дрон "Шебекино', MEMBER))
    assert reply is not None
    assert reply.startswith("⚠️ Cannot understand the rule at character 6: expected a closing"
                            " &quot; for this quote\n")
    assert "<code>дрон &quot;Шебекино\n     ^</code>" in reply
    assert await store.rules.of_chat(MEMBER) == []


async def test_allow_and_deny(router: CommandRouter) -> None:
    newcomer = 800
    assert await router.handle(msg("/alert x", newcomer)) is not None  # refusal
    assert await router.handle(msg(f"/allow {newcomer}")) == f"✅ {newcomer} may now use chanwatch."
    again = await router.handle(msg(f"/allow {newcomer}"))
    assert again == f"{newcomer} may already use chanwatch."
    assert (await router.handle(msg("/alert дрон", newcomer)) or "").startswith("✅ Rule #1")
    rules = router._svc.rules
    assert [r.chat_id for r in rules.rules_by_id.values()] == [newcomer]
    denied = await router.handle(msg(f"/deny {newcomer}"))
    assert denied == (f"{newcomer} may no longer use chanwatch; alerts to their private chat"
                      " are paused.")
    assert rules.rules_by_id == {}  # their rule no longer alerts
    assert rules.index.match("дрон над городом") == []
    await router.handle(msg(f"/allow {newcomer}"))
    assert [r.chat_id for r in rules.rules_by_id.values()] == [newcomer]
    await router.handle(msg(f"/deny {newcomer}"))
    assert await router.handle(msg(f"/deny {ADMIN}")) == (
        f"{ADMIN} is named in ADMIN_IDS; change that setting to remove them."
    )
    assert await router.handle(msg("/allow @bob")) == (
        "Usage: /allow &lt;numeric user id&gt; — a person sees their id when they write to me"
    )
    assert await router.handle(msg(f"/allow {newcomer}", MEMBER)) == "/allow is for admins only."


@pytest.mark.parametrize(
    ("target", "username"),
    [("@rybar", "rybar"), ("rybar", "rybar"), ("https://t.me/rybar", "rybar"),
     ("t.me/s/rybar/", "rybar"), ("https://telegram.me/Rybar_X?x=1", "Rybar_X")],
)
def test_channel_targets(target: str, username: str) -> None:
    assert parse_channel_target(target) == username


@pytest.mark.parametrize(
    ("target", "message"),
    [("", "Name a channel"), ("https://t.me/+AbCdEf", "Invite links"),
     ("@no", "is not a channel username"), ("@x y", "is not a channel username")],
)
def test_bad_channel_targets(target: str, message: str) -> None:
    with pytest.raises(WatchError, match=message):
        parse_channel_target(target)


async def test_test_command_shows_understanding_and_recent_matches(
    router: CommandRouter, store: Store
) -> None:
    import datetime as dt

    from bot.models import Post

    await store.channels.add(777, "kanal", "Канал", 5, added_by=ADMIN)
    texts = ["Дроны атаковали Шебекино", "Учения с дронами у Шебекино", "Погода"]
    for i, text in enumerate(texts, start=1):
        await store.posts.save(Post(777, i, dt.datetime(2026, 11, 25, 10, i, tzinfo=dt.UTC),
                                   text, f"https://t.me/kanal/{i}"), [], [])
    reply = await router.handle(msg("/test дрон* AND (Шебекино OR Shebekino) NOT учения",
                                    MEMBER))
    assert reply is not None
    assert reply.startswith("Understood as: <code>дрон* AND (шебекино OR shebekino) AND NOT"
                            " учения</code>\n1 of the last 3 stored posts would have matched:")
    assert "<b>Дроны</b> атаковали <b>Шебекино</b>" in reply
    assert "https://t.me/kanal/1" in reply and "kanal/2" not in reply
    assert "None of the last 3 stored posts" in (await router.handle(msg("/test Курск",
                                                                          MEMBER)) or "")
    bad = await router.handle(msg("/test (дрон", MEMBER))
    assert bad is not None
    assert "at character 6: expected &#x27;)&#x27; to close the &#x27;(&#x27;" in bad
