"""Real, unmodified Telethon 1.45 clients against the loopback FakeTelegram over 127.0.0.1."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from telethon import Button, TelegramClient, errors, events, utils
from telethon.sessions import SQLiteSession
from telethon.tl import functions, types

from bot.sandbox import Account, FakeChannel, FakeTelegram, World
from bot.sandbox.world import FakeGroup
from tests.sandbox.clients import BOT_TOKEN, ClientFactory, named, start_bot


def tiny_png() -> bytes:
    """A valid 2x1 RGB PNG (red, blue) built by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff")  # filter byte, then 2 RGB pixels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


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
    # A group group_message had to create is theirs: the first sender is its creator.
    assert (await bot.get_permissions(-321, admin.id)).is_creator


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


async def test_bot_in_supergroup_answers_commands_and_reads_roles(
        world: World, reader: Account, bot_account: Account, client_for: ClientFactory) -> None:
    owner, helper = world.add_user(500, "Владелец"), world.add_user(501, "Помощник")
    member, stranger = world.add_user(502, "Участник"), world.add_user(503, "Чужой")
    group = world.add_group(9100, "Штаб", [owner, helper, member, bot_account, reader],
                            admins=[helper.id], creator=owner.id, megagroup=True)
    assert isinstance(group, FakeChannel) and group.megagroup and group.private
    assert bot_account.channels == {9100} and 9100 in reader.channels
    bot = await start_bot(client_for, bot_account)
    user = await client_for(reader)
    seen = collect(user, events.NewMessage())

    async def on_status(event: events.NewMessage.Event) -> None:
        await event.reply("работаю")

    bot.add_event_handler(on_status, events.NewMessage(pattern=r"^/status"))
    incoming = world.group_message(bot_account, group.id, member, "/status@alert_bot")
    await wait_until(lambda: world.sent_to(group.id))
    reply = world.sent_to(group.id)[0]
    assert (reply.text, reply.reply_to, reply.peer) == (
        "работаю", incoming.id, types.PeerChannel(group.id))
    await wait_until(lambda: len(seen) == 2)  # another member sees the command and the reply
    assert [(e.chat_id, e.sender_id, e.raw_text) for e in seen] == [
        (-1000000009100, member.id, "/status@alert_bot"),
        (-1000000009100, bot_account.user.id, "работаю")]

    async def roles() -> list[tuple[bool, bool]]:
        perms = [await bot.get_permissions(-1000000009100, u.id) for u in (owner, helper, member)]
        return [(p.is_creator, p.is_admin) for p in perms]

    assert await roles() == [(True, True), (False, True), (False, False)]
    raw = await bot(functions.channels.GetParticipantRequest(
        types.InputChannel(group.id, 0), types.InputPeerUser(helper.id, 0)))
    assert isinstance(raw.participant, types.ChannelParticipantAdmin)
    assert raw.participant.admin_rights.ban_users and raw.participant.promoted_by == owner.id
    me = await bot(functions.channels.GetParticipantRequest(
        types.InputChannel(group.id, 0), types.InputPeerSelf()))
    assert isinstance(me.participant, types.ChannelParticipantSelf)
    with pytest.raises(errors.UserNotParticipantError):
        await bot.get_permissions(-1000000009100, stranger.id)
    world.set_admins(group.id, [member.id])
    assert await roles() == [(True, True), (False, False), (False, True)]
    with pytest.raises(ValueError, match="not members"):
        world.set_admins(group.id, [stranger.id])


async def test_bot_in_basic_group_with_admins(world: World, bot_account: Account,
                                              client_for: ClientFactory) -> None:
    owner, helper = world.add_user(500, "Владелец"), world.add_user(501, "Помощник")
    member, stranger = world.add_user(502, "Участник"), world.add_user(503, "Чужой")
    group = world.add_group(321, "Админы", [owner, helper, member, bot_account],
                            admins=[helper.id], creator=owner.id)
    assert isinstance(group, FakeGroup) and bot_account.chats == {321}
    bot = await start_bot(client_for, bot_account)

    async def on_status(event: events.NewMessage.Event) -> None:
        await event.reply("работаю")

    bot.add_event_handler(on_status, events.NewMessage(pattern=r"^/status"))
    incoming = world.group_message(bot_account, 321, member, "/status")
    await wait_until(lambda: world.sent_to(321))
    reply = world.sent_to(321)[0]
    assert (reply.text, reply.reply_to, reply.peer) == ("работаю", incoming.id,
                                                       types.PeerChat(321))

    async def roles() -> list[tuple[bool, bool]]:
        perms = [await bot.get_permissions(-321, u.id) for u in (owner, helper, member)]
        return [(p.is_creator, p.is_admin) for p in perms]

    assert await roles() == [(True, True), (False, True), (False, False)]
    full = await bot(functions.messages.GetFullChatRequest(321))
    assert [type(p) for p in full.full_chat.participants.participants] == [
        types.ChatParticipantCreator, types.ChatParticipantAdmin, types.ChatParticipant,
        types.ChatParticipant]
    assert {u.id for u in full.users} == {500, 501, 502, 424242}
    assert full.chats[0].title == "Админы" and full.chats[0].participants_count == 4
    with pytest.raises(errors.UserNotParticipantError):
        await bot.get_permissions(-321, stranger.id)
    world.set_admins(321, [member.id])
    assert await roles() == [(True, True), (False, False), (False, True)]
    with pytest.raises(ValueError, match="not members"):
        world.add_group(322, "Другая", [owner], admins=[stranger.id])


async def test_bot_removed_from_groups_cannot_write(world: World, bot_account: Account,
                                                   client_for: ClientFactory) -> None:
    owner = world.add_user(500, "Владелец")
    basic = world.add_group(321, "Группа", [owner, bot_account], creator=owner.id)
    world.add_group(9100, "Супергруппа", [owner, bot_account], creator=owner.id,
                    megagroup=True)
    bot = await start_bot(client_for, bot_account)
    got = collect(bot, events.NewMessage())
    actions = collect(bot, events.ChatAction())
    world.group_message(bot_account, 321, owner, "привет")
    world.group_message(bot_account, 9100, owner, "привет")
    await wait_until(lambda: len(got) == 2)
    await bot.send_message(-321, "до")
    await bot.send_message(-1000000009100, "до")
    world.remove_from_group(bot_account, 321)
    world.remove_from_group(bot_account, 9100)
    await wait_until(lambda: actions)  # Telegram tells a kicked member in a service message
    assert actions[0].user_kicked and actions[0].user_id == bot_account.user.id
    assert actions[0].kicked_by.id == owner.id
    # Real Telegram: 403 CHAT_WRITE_FORBIDDEN for a basic group, 400 CHANNEL_PRIVATE once banned.
    with pytest.raises(errors.ChatWriteForbiddenError):
        await bot.send_message(-321, "после")
    with pytest.raises(errors.ChannelPrivateError):
        await bot.send_message(-1000000009100, "после")
    assert [(s.peer_id, s.text) for s in world.sent] == [(321, "до"), (9100, "до")]
    assert bot_account.chats == set() and bot_account.channels == set()
    assert not world.is_participant(basic, bot_account.user.id)
    with pytest.raises(ValueError, match="not in group"):
        world.group_message(bot_account, 321, owner, "/status")
    with pytest.raises(ValueError, match="creator"):
        world.remove_from_group(owner, 321)


async def test_buttons_under_group_messages_are_pressed_and_edited(
        world: World, reader: Account, bot_account: Account, client_for: ClientFactory) -> None:
    owner = world.add_user(500, "Владелец")
    world.add_group(321, "Группа", [owner, bot_account])
    supergroup = world.add_group(9100, "Штаб", [owner, bot_account, reader], megagroup=True)
    assert isinstance(supergroup, FakeChannel)
    bot = await start_bot(client_for, bot_account)
    got = collect(bot, events.NewMessage())
    presses: list[tuple[int, int, bytes]] = []

    async def on_button(event: events.CallbackQuery.Event) -> None:
        presses.append((event.chat_id, event.sender_id, event.data))
        await event.answer("принято")
        await event.edit(f"нажато {event.data.decode()}", buttons=None)

    bot.add_event_handler(on_button, events.CallbackQuery())
    world.group_message(bot_account, 321, owner, "привет")
    world.group_message(bot_account, 9100, owner, "привет")
    await wait_until(lambda: len(got) == 2)
    in_basic = await bot.send_message(-321, "Вопрос?", buttons=[Button.inline("Да", b"yes")])
    in_super = await bot.send_message(-1000000009100, "Вопрос?",
                                      buttons=[Button.inline("Да", b"yes")])
    sent_basic, sent_super = world.sent_to(321)[-1], world.sent_to(9100)[-1]
    assert isinstance(sent_basic.reply_markup, types.ReplyInlineMarkup)
    assert supergroup.messages[in_super.id].reply_markup == sent_super.reply_markup
    world.press_button(bot_account, owner, sent_basic, b"yes")
    await wait_until(lambda: len(world.edited) == 1)
    world.press_button(bot_account, owner, sent_super, b"yes")
    await wait_until(lambda: len(world.edited) == 2)
    assert presses == [(-321, owner.id, b"yes"), (-1000000009100, owner.id, b"yes")]
    assert len(world.callback_answers) == 2
    assert [(e.peer_id, e.msg_id, e.text, e.reply_markup) for e in world.edited] == [
        (321, in_basic.id, "нажато yes", None), (9100, in_super.id, "нажато yes", None)]
    # A new keyboard on the same text is an edit; members see it, the history keeps it.
    user = await client_for(reader)
    edits = collect(user, events.MessageEdited())
    await bot.edit_message(-1000000009100, in_super.id, buttons=[Button.inline("Ещё", b"more")])
    await bot.edit_message(-321, in_basic.id, buttons=[Button.inline("Ещё", b"more")])
    assert [e.text for e in world.edited[2:]] == ["нажато yes", "нажато yes"]
    assert world.edited[-1].reply_markup.rows[0].buttons[0].type.data == b"more"
    await wait_until(lambda: edits)
    assert edits[0].raw_text == "нажато yes" and edits[0].buttons[0][0].data == b"more"
    history = await bot.get_messages(-321, ids=in_basic.id)
    assert history.buttons[0][0].data == b"more"
    with pytest.raises(errors.MessageNotModifiedError):
        await bot.edit_message(-321, in_basic.id, buttons=[Button.inline("Ещё", b"more")])


async def test_fail_sends_injects_errors_for_one_peer(world: World, bot_account: Account,
                                                     client_for: ClientFactory) -> None:
    admin, other = world.add_user(500, "Админ"), world.add_user(501, "Другой")
    world.add_group(321, "Группа", [admin, bot_account])
    bot = await start_bot(client_for, bot_account, flood_sleep_threshold=0)
    world.fail_sends(admin.id, "USER_IS_BLOCKED", times=2, code=403)
    with pytest.raises(errors.UserIsBlockedError):
        await bot.send_message(admin.id, "раз")
    await bot.send_message(other.id, "другому")  # other peers are not affected
    with pytest.raises(errors.UserIsBlockedError):
        await bot.send_file(admin.id, named(tiny_png(), "chart.png"))
    sent = await bot.send_message(admin.id, "два")
    # An injected error never reaches the handler: the random_id stays free for the retry.
    world.fail_sends(321, "CHAT_WRITE_FORBIDDEN", code=403)
    request = functions.messages.SendMessageRequest(types.InputPeerChat(321), "три",
                                                    random_id=777)
    with pytest.raises(errors.ChatWriteForbiddenError):
        await bot(request)
    await bot(request)
    world.fail_sends(admin.id, "INTERNAL", code=500)
    await bot.edit_message(admin.id, sent.id, "два (испр.)")  # Telethon retries a 500 after 2 s
    world.fail_sends(admin.id, "FLOOD_WAIT_30", code=420)
    with pytest.raises(errors.FloodWaitError) as flood:
        await bot.send_message(admin.id, "четыре")
    assert flood.value.seconds == 30
    assert world.failed_sends == [
        (admin.id, "USER_IS_BLOCKED"), (admin.id, "USER_IS_BLOCKED"),
        (321, "CHAT_WRITE_FORBIDDEN"), (admin.id, "INTERNAL"), (admin.id, "FLOOD_WAIT_30")]
    assert world.send_failures == {}
    assert [(s.peer_id, s.text) for s in world.sent] == [
        (other.id, "другому"), (admin.id, "два"), (321, "три")]
    assert world.edited[-1].text == "два (испр.)"


async def test_bot_sends_photos_and_files(world: World, bot_account: Account,
                                          client_for: ClientFactory, tmp_path: Path) -> None:
    admin = world.add_user(500, "Админ")
    group = world.add_group(9100, "Штаб", [admin, bot_account], megagroup=True)
    assert isinstance(group, FakeChannel)
    world.add_group(321, "Группа", [admin, bot_account])
    # One attempt and the error itself for 500s (RANDOM_ID_DUPLICATE), not five retries.
    bot = await start_bot(client_for, bot_account, request_retries=0, raise_last_call_error=True)
    png = tiny_png()
    msg = await bot.send_file(admin.id, named(png, "chart.png"), caption="<b>График</b> за день",
                              parse_mode="html")
    sent = world.sent[-1]
    assert sent.photo == png and sent.document is None and sent.msg_id == msg.id
    assert sent.html == "<strong>График</strong> за день" and sent.random_id
    assert msg.photo is not None and (msg.photo.sizes[0].w, msg.photo.sizes[0].h) == (2, 1)
    path = tmp_path / "chart.png"
    path.write_bytes(png)
    # An open file, not a path: with Pillow installed Telethon leaves a path's image open.
    with path.open("rb") as file:
        in_group = await bot.send_file(-1000000009100, file, caption="в группу")
        file.seek(0)
        in_basic = await bot.send_file(-321, file, caption="в чат")
    assert world.sent_to(9100)[-1].photo == png and group.messages[in_group.id].photo
    assert world.sent_to(321)[-1].photo == png and in_basic.photo is not None
    await bot.edit_message(-321, in_basic.id, "в чат (испр.)")  # a caption edit keeps the photo
    assert world.edited[-1].photo == png
    assert (await bot.get_messages(-321, ids=in_basic.id)).photo is not None
    # Raw bytes have no file name: Telethon sends them as a document, not a photo.
    doc = await bot.send_file(admin.id, png)
    assert (world.sent[-1].photo, world.sent[-1].document) == (None, png)
    assert world.sent[-1].file_name == "unnamed" and doc.document is not None
    # By hand: a big file's parts, then SendMedia with the same random_id twice.
    await bot(functions.upload.SaveBigFilePartRequest(99, 0, 2, png[:10]))
    await bot(functions.upload.SaveBigFilePartRequest(99, 1, 2, png[10:]))
    request = functions.messages.SendMediaRequest(
        await bot.get_input_entity(admin.id),
        types.InputMediaUploadedPhoto(types.InputFileBig(99, 2, "big.png")), "большой",
        random_id=4242)
    result = await bot(request)
    assert isinstance(result, types.Updates)
    assert [type(u) for u in result.updates] == [types.UpdateMessageID, types.UpdateNewMessage]
    assert world.sent[-1].photo == png and world.sent[-1].text == "большой"
    with pytest.raises(errors.RandomIdDuplicateError):
        await bot(request)
    assert world.duplicate_sends == 1 and [s.random_id for s in world.sent].count(4242) == 1
    await bot(functions.upload.SaveFilePartRequest(12345, 0, png))
    with pytest.raises(errors.FilePartMissingError) as missing:  # the file has 2 parts
        await bot(functions.messages.SendMediaRequest(
            types.InputPeerUser(admin.id, 0),
            types.InputMediaUploadedPhoto(types.InputFile(12345, 2, "x.png", "")), ""))
    assert missing.value.which == 1
    with pytest.raises(errors.ImageProcessFailedError):
        await bot.send_file(admin.id, named(b"not an image", "fake.png"))
    assert len(world.sent) == 5


async def test_user_who_blocked_the_bot(world: World, bot_account: Account,
                                        client_for: ClientFactory) -> None:
    admin, other = world.add_user(500, "Админ"), world.add_user(501, "Другой")
    bot = await start_bot(client_for, bot_account)
    world.block_bot(admin.id, bot_account)
    with pytest.raises(errors.UserIsBlockedError):
        await bot.send_message(admin.id, "раз")
    with pytest.raises(errors.UserIsBlockedError):
        await bot.send_file(admin.id, named(tiny_png(), "chart.png"))
    request = functions.messages.SendMessageRequest(types.InputPeerUser(admin.id, 0), "два",
                                                    random_id=555)
    with pytest.raises(errors.UserIsBlockedError):
        await bot(request)
    await bot.send_message(other.id, "другому")
    world.unblock_bot(admin.id, bot_account)
    await bot(request)  # the refused send did not use up its random_id
    assert [(s.peer_id, s.text) for s in world.sent] == [(other.id, "другому"), (admin.id, "два")]
