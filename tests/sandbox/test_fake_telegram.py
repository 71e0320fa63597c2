"""Real, unmodified Telethon 1.45 clients against the loopback FakeTelegram over 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from telethon import TelegramClient, errors, events, utils
from telethon.sessions import SQLiteSession
from telethon.tl import functions, types

from bot.sandbox import Account, FakeChannel, FakeTelegram, World

API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "424242:TEST-TOKEN"

ClientFactory = Callable[..., Awaitable[TelegramClient]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram.start()
    yield fake
    await fake.stop()
    # Every request the clients made must have been scripted, in every test.
    assert fake.world.unscripted == []
    assert fake.errors == []


@pytest.fixture
def world(fake: FakeTelegram) -> World:
    return fake.world


@pytest.fixture
async def client_for(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Factory: a TelegramClient whose session file points at the fake with the account's key."""
    clients: list[TelegramClient] = []

    async def make(account: Account, *, connect: bool = True, **kwargs: Any) -> TelegramClient:
        path = tmp_path / f"{account.user.id}-{len(clients)}.session"
        fake.write_session(account, path)
        client = TelegramClient(str(path), API_ID, API_HASH, receive_updates=True, **kwargs)
        clients.append(client)
        if connect:
            await client.connect()
        return client

    yield make
    for client in clients:
        await client.disconnect()


@pytest.fixture
def news(world: World) -> FakeChannel:
    return world.add_channel(1234567, "Новости Тест", "news_test")


@pytest.fixture
def reader(world: World, news: FakeChannel) -> Account:
    """A logged-in user account subscribed to `news`."""
    account = world.add_account(world.add_user(1000, "Монитор"))
    account.channels.add(news.id)
    return account


async def wait_until(predicate: Callable[[], Any], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 (state changes in other tasks; polling is simplest)
            await asyncio.sleep(0.01)


def collect(client: TelegramClient, event: Any) -> list[Any]:
    got: list[Any] = []

    async def handler(ev: Any) -> None:
        got.append(ev)

    client.add_event_handler(handler, event)
    return got


async def test_user_receives_live_posts_edits_and_deletes(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    client = await client_for(reader)
    new = collect(client, events.NewMessage(chats=[news.id]))
    edited = collect(client, events.MessageEdited())
    deleted = collect(client, events.MessageDeleted())
    world.post(news, "Срочно: первый", views=10, forwards=2)
    world.post(news, "фото", media="photo", fwd_from_channel=777, fwd_from_msg_id=5, reply_to=1)
    world.post(news, "файл", media="document", grouped_id=99)
    await wait_until(lambda: len(new) == 3)
    assert [e.raw_text for e in new] == ["Срочно: первый", "фото", "файл"]
    assert new[0].chat_id == utils.get_peer_id(news.entity) == -1000001234567
    assert (await new[0].get_chat()).title == "Новости Тест"
    assert new[0].message.views == 10 and new[0].message.post
    assert new[1].message.photo is not None and new[1].message.fwd_from.channel_post == 5
    assert new[1].message.reply_to_msg_id == 1
    assert new[2].message.document.mime_type == "application/pdf"
    assert new[2].message.grouped_id == 99
    world.edit(news, 1, "Срочно: исправлено")
    world.delete(news, [2])
    await wait_until(lambda: edited and deleted)
    assert edited[0].raw_text == "Срочно: исправлено" and edited[0].id == 1
    assert deleted[0].deleted_ids == [2] and deleted[0].chat_id == -1000001234567


async def test_join_then_receive(world: World, news: FakeChannel,
                                 client_for: ClientFactory) -> None:
    account = world.add_account(world.add_user(1001, "Новичок"))
    client = await client_for(account)
    got = collect(client, events.NewMessage())
    entity = await client.get_entity("@news_test")
    assert entity.id == news.id and entity.left
    world.post(news, "до вступления")
    result = await client(functions.channels.JoinChannelRequest(entity))
    assert [type(u) for u in result.updates] == [types.UpdateChannel]
    assert account.channels == {news.id}
    again = await client(functions.channels.JoinChannelRequest(entity))
    assert again.updates == []  # Telegram answers a repeated join without an error
    world.post(news, "после вступления")
    await wait_until(lambda: got)
    await asyncio.sleep(0.05)
    assert [e.raw_text for e in got] == ["после вступления"]
    await client(functions.channels.LeaveChannelRequest(entity))
    assert account.channels == set()


async def test_resolving_unknown_or_invalid_username(reader: Account,
                                                     client_for: ClientFactory) -> None:
    client = await client_for(reader)
    with pytest.raises(ValueError, match="no_such_channel"):
        await client.get_entity("@no_such_channel")
    with pytest.raises(errors.UsernameInvalidError):
        await client(functions.contacts.ResolveUsernameRequest("9starts_with_digit"))


async def test_private_channel_cannot_be_joined_or_read(world: World, reader: Account,
                                                        client_for: ClientFactory) -> None:
    secret = world.add_channel(555, "Закрытый", private=True)
    world.post(secret, "секрет")
    client = await client_for(reader)
    input_channel = types.InputChannel(secret.id, secret.entity.access_hash)
    with pytest.raises(errors.ChannelPrivateError):
        await client(functions.channels.JoinChannelRequest(input_channel))
    with pytest.raises(errors.ChannelPrivateError):
        await client.get_messages(types.InputPeerChannel(secret.id, secret.entity.access_hash))
    chats = await client(functions.channels.GetChannelsRequest([input_channel]))
    assert isinstance(chats.chats[0], types.ChannelForbidden)


async def test_iter_messages_reverse_from_min_id_over_many_pages(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    for i in range(1, 251):
        world.post(news, f"пост {i}", deliver=False)
    world.delete(news, [100])
    client = await client_for(reader)
    # wait_time=0: unbounded iter_messages otherwise sleeps 1 s between 100-message pages.
    ascending = [m.id async for m in client.iter_messages(news.entity, min_id=37, reverse=True,
                                                          wait_time=0)]
    assert ascending == [i for i in range(38, 251) if i != 100]
    descending = [m.id async for m in client.iter_messages(news.entity, min_id=200)]
    assert descending == list(range(250, 200, -1))
    window = [m.id async for m in client.iter_messages(news.entity, min_id=10, max_id=15)]
    assert window == [14, 13, 12, 11]
    latest = await client.get_messages(news.entity, limit=3)
    assert [m.text for m in latest] == ["пост 250", "пост 249", "пост 248"]
    assert latest.total == 249
    by_id = await client.get_messages(news.entity, ids=[5, 100, 9999])
    assert by_id[0].text == "пост 5" and by_id[1] is None and by_id[2] is None


async def test_get_peer_dialogs_top_ids(world: World, news: FakeChannel, reader: Account,
                                        client_for: ClientFactory) -> None:
    other = world.add_channel(42424242, "Другой", "other_news")
    reader.channels.add(other.id)
    for i in range(5):
        world.post(news, f"новость {i}", deliver=False)
    world.delete(news, [5])
    world.post(other, "одна", deliver=False)
    client = await client_for(reader)
    peers = [types.InputDialogPeer(await client.get_input_entity(c.entity)) for c in (news, other)]
    result = await client(functions.messages.GetPeerDialogsRequest(peers))
    assert [(utils.get_peer_id(d.peer), d.top_message) for d in result.dialogs] == [
        (-1000001234567, 4), (-1000042424242, 1)]
    assert {m.id for m in result.messages} == {4, 1}
    dialogs = await client.get_dialogs()
    assert sorted(d.name for d in dialogs) == ["Другой", "Новости Тест"]


async def test_bot_login_private_command_and_reply(world: World,
                                                   client_for: ClientFactory) -> None:
    admin = world.add_user(500, "Админ", "admin_user")
    bot_account = world.add_account(world.add_user(424242, "AlertBot", "alert_bot", bot=True),
                                    bot_token=BOT_TOKEN)
    bot = await client_for(bot_account, connect=False)
    with pytest.raises(errors.AccessTokenInvalidError):
        await bot.start(bot_token="424242:WRONG")
    await bot.start(bot_token=BOT_TOKEN)
    me = await bot.get_me()
    assert me.bot and me.id == 424242
    await bot(functions.bots.SetBotCommandsRequest(
        types.BotCommandScopeDefault(), "", [types.BotCommand("status", "Статус")]))
    assert [c.command for c in world.bot_commands] == ["status"]

    async def on_status(event: events.NewMessage.Event) -> None:
        await event.reply("работаю")

    bot.add_event_handler(on_status, events.NewMessage(pattern=r"^/status$"))
    incoming = world.private_message(bot_account, admin, "/status")
    await wait_until(lambda: world.sent)
    reply = world.sent[0]
    assert (reply.peer_id, reply.text, reply.reply_to) == (admin.id, "работаю", incoming.id)
    # The sender came with the update, so the bot can now address the user by bare id.
    sent = await bot.send_message(admin.id, "алерт")
    assert [s.text for s in world.sent_to(admin.id)] == ["работаю", "алерт"]
    await bot.edit_message(admin.id, sent.id, "алерт (обновлён)")
    assert world.edited[-1].text == "алерт (обновлён)" and world.edited[-1].msg_id == sent.id
    with pytest.raises(errors.MessageNotModifiedError):
        await bot.edit_message(admin.id, sent.id, "алерт (обновлён)")


async def test_bot_in_basic_group(world: World, client_for: ClientFactory) -> None:
    admin = world.add_user(500, "Админ")
    bot_account = world.add_account(world.add_user(424242, "AlertBot", bot=True),
                                    bot_token=BOT_TOKEN)
    bot = await client_for(bot_account, connect=False)
    await bot.start(bot_token=BOT_TOKEN)
    got = collect(bot, events.NewMessage())
    world.group_message(bot_account, 321, admin, "/status@AlertBot", title="Админы")
    await wait_until(lambda: got)
    assert got[0].chat_id == -321 and got[0].sender_id == admin.id
    await bot.send_message(got[0].chat_id, "ok")
    assert world.sent_to(321)[0].text == "ok"


async def test_send_message_with_html_is_recorded_with_entities(
        world: World, client_for: ClientFactory) -> None:
    admin = world.add_user(500, "Админ", "admin_user")
    bot_account = world.add_account(world.add_user(424242, "AlertBot", bot=True),
                                    bot_token=BOT_TOKEN)
    bot = await client_for(bot_account, connect=False)
    await bot.start(bot_token=BOT_TOKEN)
    markup = '<strong>Срочно</strong>: курс <a href="https://t.me/news_test/1">пост</a>'
    await bot.send_message(await bot.get_input_entity("@admin_user"), markup, parse_mode="html",
                           link_preview=False)
    sent = world.sent_to(admin.id)[0]
    assert sent.text == "Срочно: курс пост" and sent.no_webpage and sent.random_id
    assert [type(e) for e in sent.entities] == [types.MessageEntityBold,
                                                 types.MessageEntityTextUrl]
    assert sent.html == markup
    with pytest.raises(errors.MessageTooLongError):
        await bot.send_message(admin.id, "x" * 4097)


async def test_injected_rpc_errors_are_one_shot(world: World, reader: Account,
                                                client_for: ClientFactory) -> None:
    world.add_user(500, "Админ", "admin_user")
    client = await client_for(reader, flood_sleep_threshold=0)
    send = functions.messages.SendMessageRequest
    world.rpc_errors[send] = types.RpcError(420, "FLOOD_WAIT_3")
    with pytest.raises(errors.FloodWaitError) as flood:
        await client.send_message("@admin_user", "раз")
    assert flood.value.seconds == 3
    world.rpc_errors[send] = [types.RpcError(403, "CHAT_WRITE_FORBIDDEN"),
                              types.RpcError(400, "PEER_FLOOD")]
    with pytest.raises(errors.ChatWriteForbiddenError):
        await client.send_message("@admin_user", "два")
    with pytest.raises(errors.PeerFloodError):
        await client.send_message("@admin_user", "два")
    await client.send_message("@admin_user", "три")
    assert [s.text for s in world.sent] == ["три"] and world.rpc_errors == {}


async def test_connection_drop_reconnect_and_gap_recovery(
        fake: FakeTelegram, world: World, news: FakeChannel, reader: Account,
        client_for: ClientFactory) -> None:
    client = await client_for(reader)
    got = collect(client, events.NewMessage())
    world.post(news, "до обрыва")
    await wait_until(lambda: got)
    fake.drop_connections()
    for i in range(150):  # more than one getChannelDifference page (Telethon asks for 100)
        world.post(news, f"пропущен {i}", deliver=False)
    await wait_until(lambda: reader.connections, seconds=10)
    world.post(news, "после переподключения")
    await wait_until(lambda: len(got) == 152, seconds=10)
    # The live post reveals the gap; Telethon then pages getChannelDifference and replays in order.
    assert [e.raw_text for e in got] == [
        "до обрыва", *(f"пропущен {i}" for i in range(150)), "после переподключения"]
    diff = functions.updates.GetChannelDifferenceRequest
    pages = [r for _, r in fake.requests if isinstance(r, diff)]
    assert [r.pts for r in pages] == [2, 102]  # 100 updates per page for user accounts


async def test_account_without_login_is_unauthorised(world: World,
                                                     client_for: ClientFactory) -> None:
    account = world.add_account(world.add_user(1002, "Без входа"), logged_in=False)
    client = await client_for(account)
    assert not await client.is_user_authorized()
    assert await client.get_me() is None


async def test_bot_posts_to_channel_and_megagroup_senders(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    alerts = world.add_channel(9000, "Алерты", private=True)
    chat = world.add_channel(9001, "Обсуждение", "talk_group", megagroup=True)
    author = world.add_user(600, "Автор", "author_user")
    reader.channels |= {alerts.id, chat.id}
    bot_account = world.add_account(world.add_user(424242, "AlertBot", bot=True),
                                    bot_token=BOT_TOKEN)
    bot_account.channels.add(alerts.id)
    bot = await client_for(bot_account, connect=False)
    await bot.start(bot_token=BOT_TOKEN)
    client = await client_for(reader)
    got = collect(client, events.NewMessage())
    bot_saw = collect(bot, events.NewMessage())
    # A bot may address a channel it is in by bare id (access_hash=0 is accepted for bots).
    posted = await bot.send_message(types.PeerChannel(alerts.id), "<b>алерт</b>",
                                    parse_mode="html")
    assert posted.id == 1 and world.sent_to(alerts.id)[0].html == "<strong>алерт</strong>"
    world.post(chat, "привет", from_user=author)
    await wait_until(lambda: len(got) == 2)
    edited = collect(client, events.MessageEdited())
    await bot.edit_message(types.PeerChannel(alerts.id), posted.id, "алерт (испр.)")
    await wait_until(lambda: edited)
    assert edited[0].raw_text == "алерт (испр.)" and alerts.messages[1].message == "алерт (испр.)"
    assert [(e.chat_id, e.raw_text) for e in got] == [
        (-1000000009000, "алерт"), (-1000000009001, "привет")]
    assert got[1].sender_id == author.id and (await got[1].get_sender()).username == "author_user"
    assert bot_saw == []  # a client never gets its own messages back as events


async def test_unscripted_requests_are_refused_and_recorded(
        world: World, news: FakeChannel, reader: Account, client_for: ClientFactory) -> None:
    client = await client_for(reader)
    with pytest.raises(errors.BadRequestError, match="FAKE_UNSCRIPTED_CHANNELS_GETFULLCHANNEL"):
        await client(functions.channels.GetFullChannelRequest(news.entity))
    assert [type(r) for r in world.unscripted] == [functions.channels.GetFullChannelRequest]
    world.unscripted.clear()  # the fixture asserts it is empty at teardown


def test_write_session_creates_a_private_session_file(fake: FakeTelegram, reader: Account,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "user.session"
    fake.write_session(reader, path)
    assert path.stat().st_mode & 0o777 == 0o600
    session = SQLiteSession(str(path))
    try:
        assert (session.server_address, session.port) == ("127.0.0.1", fake.port)
        assert session.auth_key is not None and session.auth_key.key_id in fake.keys
    finally:
        session.close()
    with pytest.raises(ValueError, match="must end with"):
        fake.write_session(reader, tmp_path / "user")
