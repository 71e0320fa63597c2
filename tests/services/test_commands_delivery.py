"""/mode /mute /unmute /quiet /tz /digest and the group policy, against a real database."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.commands import Services
from bot.guard import GROUP_ADMINS_ONLY, CommandRouter, Incoming
from bot.match import Lemmatizer
from bot.models import ChatKind, Role
from bot.schedule import ScheduleError, digest_cron, parse_range, quiet_until
from bot.services.access import AccessService
from bot.services.digest import DigestService
from bot.services.ports import ChannelLimitError, ResolvedChannel
from bot.services.rules import RulesService
from bot.services.watch import LIVE_LIMIT, WatchService
from bot.store import Database, Store
from tests.support.fakes import FakeClock, NoTelegram

ADMIN, MEMBER, STRANGER, GROUP_ADMIN = 500, 600, 700, 800
GROUP = -1001234


class Rig:
    def __init__(self, router: CommandRouter, store: Store, scheduler: AsyncIOScheduler,
                 admins: dict[int, set[int]]) -> None:
        self.router, self.store, self.scheduler, self.admins = router, store, scheduler, admins

    async def say(self, text: str, sender: int | None = MEMBER, chat: int | None = None,
                  kind: ChatKind = ChatKind.PRIVATE) -> str:
        reply = await self.router.handle(
            Incoming(text, sender, chat if chat is not None else (sender or 0), kind, "G"))
        assert isinstance(reply, str), reply
        return reply


@pytest.fixture
async def rig(store: Store, lemmatizer: Lemmatizer, clock: FakeClock) -> AsyncIterator[Rig]:
    rules = RulesService(store, lemmatizer)
    digests = DigestService(store, clock, ZoneInfo("UTC"), None)
    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    scheduler.start(paused=True)  # as in the app: started, so jobs replace each other
    await digests.attach(scheduler, lambda name, factory: None)
    services = Services(store, AccessService(store, frozenset({ADMIN})),
                        WatchService(store, NoTelegram()), rules, ZoneInfo("UTC"),
                        digests=digests, clock=clock)
    await store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    await store.users.grant(GROUP_ADMIN, Role.MEMBER, ADMIN)
    router = CommandRouter(services, clock, bot_username="chanwatch_bot")
    admins: dict[int, set[int]] = {GROUP: {GROUP_ADMIN}}

    async def is_group_admin(chat_id: int, user_id: int) -> bool:  # Telegram's answer
        return user_id in admins.get(chat_id, set())

    router.is_group_admin = is_group_admin
    yield Rig(router, store, scheduler, admins)
    scheduler.shutdown(wait=False)


async def test_mode(rig: Rig) -> None:
    await rig.say("/alert дрон")
    assert "Usage" in await rig.say("/mode 1 sometimes")
    assert "No rule #7" in await rig.say("/mode 7 digest")
    reply = await rig.say("/mode #1 digest")
    assert "<b>digest</b>" in reply and "/digest 08:00" in reply
    (rule,) = await rig.store.rules.of_chat(MEMBER)
    assert rule.mode == "digest"
    assert "(digest" in await rig.say("/rules")


async def test_mute_and_unmute(rig: Rig, clock: FakeClock) -> None:
    await rig.say("/alert дрон")
    assert "not a duration" in await rig.say("/mute 1 soon")
    assert "between a minute and a year" in await rig.say("/mute 1 2s")
    reply = await rig.say("/mute 1 8h")
    assert "muted for 8 h" in reply and "2026-11-25 20:00" in reply
    (rule,) = await rig.store.rules.of_chat(MEMBER)
    assert rule.muted(clock.now()) and not rule.muted(clock.now() + dt.timedelta(hours=8))
    assert "muted for 24 h" in await rig.say("/mute 1")
    assert "alerts again" in await rig.say("/unmute 1")
    (rule,) = await rig.store.rules.of_chat(MEMBER)
    assert rule.muted_until is None
    assert "No rule #2" in await rig.say("/unmute 2")


async def test_tz(rig: Rig) -> None:
    assert "<b>UTC</b>" in await rig.say("/tz")
    assert "Unknown time zone" in await rig.say("/tz Mars/Olympus")
    assert "Unknown time zone" in await rig.say("/tz ../../etc/passwd")
    assert "Europe/Kyiv" in await rig.say("/tz Europe/Kyiv")
    chat = await rig.store.chats.get(MEMBER)
    assert chat is not None and chat.tz == "Europe/Kyiv"


async def test_quiet(rig: Rig) -> None:
    assert "No quiet hours" in await rig.say("/quiet")
    assert "range like" in await rig.say("/quiet 23:00")
    assert "not a time of day" in await rig.say("/quiet 25:00-07:00")
    assert "23:00–07:00" in await rig.say("/quiet 23:00-07:00")
    chat = await rig.store.chats.get(MEMBER)
    assert chat is not None and (chat.quiet_start, chat.quiet_end) == (1380, 420)
    assert "23:00–07:00" in await rig.say("/quiet")
    assert "Quiet hours off" in await rig.say("/quiet off")


async def test_digest_commands_schedule_one_job_per_chat(rig: Rig, db: Database) -> None:
    assert "no digest" in await rig.say("/digest")
    assert "five fields" in await rig.say('/digest cron "0 8 * *"')
    assert "invalid cron" in await rig.say('/digest cron "0 25 * * *"')
    assert "not a time of day" in await rig.say("/digest soon")
    reply = await rig.say("/digest 08:00")
    assert "daily at 08:00 (UTC)" in reply and "No rule is in digest mode" in reply
    assert rig.scheduler.get_job(f"digest:{MEMBER}") is not None
    assert "daily at 08:00, 20:00" in await rig.say('/digest cron "0 8,20 * * *"')
    assert [j.id for j in rig.scheduler.get_jobs()] == [f"digest:{MEMBER}"]  # replaced
    assert "Here is the digest" in await rig.say("/digest now")
    row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'")
    assert row is not None and row[0] == 1
    assert "switched off" in await rig.say("/digest off")
    assert rig.scheduler.get_jobs() == []


def test_schedule_parsing() -> None:
    assert digest_cron("08:00") == "0 8 * * *"
    assert digest_cron("8:30") == "30 8 * * *"
    assert digest_cron("08:00, 20:00") == "0 8,20 * * *"
    assert digest_cron('cron "*/30 6-22 * * 1-5"') == "*/30 6-22 * * 1-5"
    with pytest.raises(ScheduleError):
        digest_cron("08:00, 20:30")
    assert parse_range("23:00 – 07:00") == (1380, 420)
    with pytest.raises(ScheduleError):
        parse_range("07:00-07:00")
    kyiv = ZoneInfo("Europe/Kyiv")
    at = dt.datetime(2026, 11, 25, 21, 30, tzinfo=dt.UTC)  # 23:30 in Kyiv
    assert quiet_until(at, kyiv, 1380, 420) == dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
    assert quiet_until(at, kyiv, 420, 1380) is None
    assert quiet_until(at, kyiv, None, None) is None
    day = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)  # 12:00 in Kyiv
    assert quiet_until(day, kyiv, 600, 840) == dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- groups
async def test_in_groups_only_group_admins_change_rules(rig: Rig) -> None:
    group = {"chat": GROUP, "kind": ChatKind.GROUP}
    assert await rig.say("/alert дрон", MEMBER, **group) == GROUP_ADMINS_ONLY
    assert await rig.store.rules.of_chat(GROUP) == []
    assert "Rule #1 saved" in await rig.say("/alert@chanwatch_bot дрон", GROUP_ADMIN, **group)
    assert "#1" in await rig.say("/rules", MEMBER, **group)  # reading is for every member
    assert "#1" in await rig.say("/rules", STRANGER, **group)  # even without chanwatch rights
    assert await rig.say("/delete 1", STRANGER, **group) is not None
    assert len(await rig.store.rules.of_chat(GROUP)) == 1
    rig.admins[GROUP] = set()  # demoted in Telegram: checked again each time
    assert await rig.say("/mute 1", GROUP_ADMIN, **group) == GROUP_ADMINS_ONLY


async def test_group_command_addressing(rig: Rig) -> None:
    incoming = Incoming("/rules@other_bot", GROUP_ADMIN, GROUP, ChatKind.GROUP, "G")
    assert await rig.router.handle(incoming) is None  # for another bot
    incoming = Incoming("/frobnicate", GROUP_ADMIN, GROUP, ChatKind.GROUP, "G")
    assert await rig.router.handle(incoming) is None  # maybe for another bot: stay quiet
    reply = await rig.say("/frobnicate@chanwatch_bot", GROUP_ADMIN, GROUP, ChatKind.GROUP)
    assert "Unknown command" in reply
    assert await rig.router.handle(Incoming("hello all", MEMBER, GROUP, ChatKind.GROUP,
                                            "G")) is None


async def test_admin_commands_stay_private_in_groups(rig: Rig) -> None:
    rig.admins[GROUP].add(ADMIN)
    assert "private chat" in await rig.say("/watch @x", ADMIN, GROUP, ChatKind.GROUP)


async def test_mute_button_in_a_group_needs_a_group_admin(rig: Rig, clock: FakeClock) -> None:
    await rig.say("/alert дрон", GROUP_ADMIN, GROUP, ChatKind.GROUP)
    (rule,) = await rig.store.rules.of_chat(GROUP)
    press = Incoming("", MEMBER, GROUP, ChatKind.GROUP, "G")
    answer, _ = await rig.router.handle_callback(MEMBER, press, f"mute:{rule.id}:1h")
    assert "administrators" in answer
    press = Incoming("", GROUP_ADMIN, GROUP, ChatKind.GROUP, "G")
    answer, _ = await rig.router.handle_callback(GROUP_ADMIN, press, f"mute:{rule.id}:24h")
    assert answer.startswith("🔕 #1 muted for 24 h")
    (rule,) = await rig.store.rules.of_chat(GROUP)
    assert rule.muted_until == clock.now() + dt.timedelta(hours=24)
    # a forged button naming another chat's rule mutes nothing
    await rig.say("/alert дрон")
    (theirs,) = await rig.store.rules.of_chat(MEMBER)
    answer, _ = await rig.router.handle_callback(GROUP_ADMIN, press, f"mute:{theirs.id}:1h")
    assert "no longer exists" in answer
    (theirs,) = await rig.store.rules.of_chat(MEMBER)
    assert theirs.muted_until is None


# ---------------------------------------------------------------------- preview fallback
class FullAccount:
    """The user account's side when Telegram refuses another join (CHANNELS_TOO_MUCH)."""

    async def resolve_channel(self, username: str) -> ResolvedChannel:
        return ResolvedChannel(777, username, "Канал", 1)

    async def join(self, channel: ResolvedChannel) -> None:
        raise ChannelLimitError("The user account has joined as many channels as Telegram"
                                " allows (about 500); /unwatch some first.")

    async def leave(self, channel_id: int, access_hash: int | None) -> None:
        raise AssertionError("nothing was joined")

    async def top_id(self, channel: ResolvedChannel) -> int:
        raise AssertionError("never reached")


class RecordingPreview:
    """Stands in for the web-preview follower (tested for real in test_e2e_reach.py)."""

    def __init__(self) -> None:
        self.watched: list[str] = []

    async def watch(self, username: str, added_by: int) -> tuple[str, bool]:
        self.watched.append(username)
        return f"Title of {username}", True


async def preview_router(store: Store, lemmatizer: Lemmatizer, clock: FakeClock,
                         directory: object) -> tuple[CommandRouter, RecordingPreview]:
    preview = RecordingPreview()
    services = Services(store, AccessService(store, frozenset({ADMIN})),
                        WatchService(store, directory), RulesService(store, lemmatizer),  # type: ignore[arg-type]
                        ZoneInfo("UTC"), clock=clock, preview=preview)
    return CommandRouter(services, clock), preview


async def ask_admin(router: CommandRouter, text: str) -> str:
    reply = await router.handle(Incoming(text, ADMIN, ADMIN, ChatKind.PRIVATE, None))
    assert isinstance(reply, str)
    return reply


async def test_watch_preview_explicitly(store: Store, lemmatizer: Lemmatizer,
                                        clock: FakeClock) -> None:
    router, preview = await preview_router(store, lemmatizer, clock, NoTelegram())
    reply = await ask_admin(router, "/watch https://t.me/rybar preview")
    assert "through its web preview" in reply and preview.watched == ["rybar"]


async def test_a_refused_join_falls_back_to_the_web_preview(
        store: Store, lemmatizer: Lemmatizer, clock: FakeClock) -> None:
    router, preview = await preview_router(store, lemmatizer, clock, FullAccount())
    reply = await ask_admin(router, "/watch @rybar")
    assert "as many channels as Telegram allows" in reply
    assert "Reading it through its web preview instead" in reply
    assert preview.watched == ["rybar"]


async def test_near_the_join_limit_new_channels_use_the_web_preview(
        store: Store, lemmatizer: Lemmatizer, clock: FakeClock) -> None:
    for i in range(LIVE_LIMIT):
        await store.channels.add(10_000 + i, f"chan{i}", f"Chan {i}", 1, ADMIN)
    router, preview = await preview_router(store, lemmatizer, clock, NoTelegram())
    reply = await ask_admin(router, "/watch @rybar")
    assert f"The account has joined {LIVE_LIMIT}+ channels" in reply
    assert preview.watched == ["rybar"]
