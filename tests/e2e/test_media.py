"""Media kept, end to end: the real service downloads posts' photos and documents from the
loopback fake Telegram (real upload.getFile parts, file references that expire) into the
content-addressed store, with every failure the issue names injected where it can happen."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import random
import time
from pathlib import Path

from telethon.tl import functions, types

from bot.media.downloader import MediaLimits
from bot.media.phash import image_phash
from tests.support.fakes import child_env, run_cli
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until
from tests.support.images import encode, noise_jpeg, scene


async def media_rows(env: Env) -> list[tuple[int, str, str | None, str | None]]:
    """(message id, state, sha256, last error) of every queued file, by message id."""
    rows = await env.running.database.fetchall(
        "SELECT p.message_id, pm.state, pm.sha256, pm.last_error FROM post_media pm"
        " JOIN posts p ON p.id = pm.post_id ORDER BY p.message_id, pm.file_id")
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]


async def settled(env: Env, count: int, within: float = 30.0) -> None:
    """Wait until ``count`` queued files have left 'pending'."""
    async def done() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE state != 'pending'") \
            >= count
    await wait_until(done, within=within)


def file_bytes(name: str) -> bytes:
    return Path(name).read_bytes()


def stored_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "media").glob("??/*") if p.is_file())


def get_file_requests(env: Env) -> list[functions.upload.GetFileRequest]:
    return [r for _, r in env.fake.requests if isinstance(r, functions.upload.GetFileRequest)]


async def restart(env: Env, **settings: str) -> None:
    await env.stop_app()
    env.settings.update(settings)
    await env.start_app()


async def test_photo_kept_by_content_and_after_deletion(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    data = noise_jpeg(1)
    msg = env.world.post(env.news, "Фото с места", media="photo", media_data=data)
    await settled(env, 1)
    sha = hashlib.sha256(data).hexdigest()
    assert await media_rows(env) == [(msg.id, "stored", sha, None)]
    path = env.data_dir / "media" / sha[:2] / f"{sha}.jpg"
    assert path.read_bytes() == data
    row = await env.running.database.fetchone("SELECT size, mime, ext, width, height FROM media")
    assert row is not None and tuple(row) == (len(data), "image/jpeg", "jpg", 320, 320)
    # the channel deletes the post: the post is flagged, the file stays
    env.world.delete(env.news, [msg.id])

    async def deleted() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL") == 1
    await wait_until(deleted)
    assert path.read_bytes() == data
    assert [r[1] for r in await media_rows(env)] == ["stored"]


async def test_same_image_stored_once_album_parts_each(env: Env) -> None:
    other = env.world.add_channel(2222222, "Другой канал", "other_test")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/watch @other_test")
    shared, a, b = noise_jpeg(10), noise_jpeg(11), noise_jpeg(12)
    for i, data in enumerate((shared, a, b)):  # an album: three messages, one grouped_id
        env.world.post(env.news, "Альбом" if i == 0 else "", media="photo", media_data=data,
                       grouped_id=777)
    env.world.post(other, "Перепост", media="photo", media_data=shared)
    await settled(env, 4)
    rows = await media_rows(env)
    assert [r[1] for r in rows] == ["stored"] * 4
    assert len({r[2] for r in rows}) == 3  # four posts, three distinct files
    files = stored_files(env.data_dir)
    assert sorted(p.read_bytes() for p in files) == sorted([shared, a, b])
    assert await env.count("SELECT COUNT(*) FROM media") == 3


async def test_documents_up_to_the_limit_and_photos_only(env: Env) -> None:
    await restart(env, MEDIA_MAX_MB="1")
    await ask(env, env.admin, "/watch @news_test")
    small = b"%PDF-1.4 " + bytes(range(256)) * 40  # ~10 kB
    big = random.Random(3).randbytes((1 << 20) + 4096)  # just over 1 MB
    voice = b"OggS" + random.Random(4).randbytes(5000)
    m1 = env.world.post(env.news, "Документ", media="document", media_data=small,
                        mime_type="application/pdf", file_name="report.pdf")
    m2 = env.world.post(env.news, "Видео", media="video", media_data=big,
                        mime_type="video/mp4", file_name="clip.mp4")
    m3 = env.world.post(env.news, "Голос", media="voice", media_data=voice,
                        mime_type="audio/ogg", file_name="voice.ogg")
    await settled(env, 3)
    rows = {r[0]: r for r in await media_rows(env)}
    assert rows[m1.id][1:3] == ("stored", hashlib.sha256(small).hexdigest())
    assert rows[m2.id][1] == "too_large" and "over MEDIA_MAX_MB=1" in str(rows[m2.id][3])
    assert rows[m3.id][1:3] == ("stored", hashlib.sha256(voice).hexdigest())
    kinds = await env.running.database.fetchall(
        "SELECT kind, duration, width FROM post_media ORDER BY post_id")
    assert [tuple(k) for k in kinds] == [("document", None, None), ("video", 5.0, 640),
                                         ("voice", 3.0, None)]
    assert {p.suffix for p in stored_files(env.data_dir)} == {".pdf", ".ogg"}
    # MEDIA_MAX_MB raised: the skipped video is queued again at the next start
    await restart(env, MEDIA_MAX_MB="2")
    await wait_until(lambda: _state(env, m2.id, "stored"), within=30)
    # MEDIA_MAX_MB=0: photos only
    await restart(env, MEDIA_MAX_MB="0")
    m4 = env.world.post(env.news, "Ещё документ", media="document", media_data=small + b"x")
    m5 = env.world.post(env.news, "Фото", media="photo", media_data=noise_jpeg(5))
    await settled(env, 5)
    rows = {r[0]: r for r in await media_rows(env)}
    assert rows[m4.id][1] == "too_large" and rows[m4.id][3] == "MEDIA_MAX_MB=0: photos only"
    assert rows[m5.id][1] == "stored"


async def _state(env: Env, message_id: int, state: str) -> bool:
    row = await env.running.database.fetchone(
        "SELECT pm.state FROM post_media pm JOIN posts p ON p.id = pm.post_id"
        " WHERE p.message_id = ?", (message_id,))
    return row is not None and row[0] == state


async def test_expired_reference_refreshed_deleted_message_gone(env: Env) -> None:
    await restart(env, MEDIA="off")  # posts queue their media; nothing downloads yet
    await ask(env, env.admin, "/watch @news_test")
    kept, lost = noise_jpeg(20), noise_jpeg(21)
    m1 = env.world.post(env.news, "Первое", media="photo", media_data=kept)
    m2 = env.world.post(env.news, "Второе", media="photo", media_data=lost)

    async def queued() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE state = 'pending'") == 2
    await wait_until(queued)
    # both references expire while the downloader is off; the second post is deleted too
    for msg in (m1, m2):
        assert isinstance(msg.media, types.MessageMediaPhoto)
        env.world.expire_file_reference(msg.media.photo.id)
    env.world.delete(env.news, [m2.id])
    reads_before = sum(isinstance(r, functions.channels.GetMessagesRequest)
                       for _, r in env.fake.requests)
    await restart(env, MEDIA="on")
    await settled(env, 2)
    rows = {r[0]: r for r in await media_rows(env)}
    assert rows[m1.id][1:3] == ("stored", hashlib.sha256(kept).hexdigest())
    assert rows[m2.id][1] == "gone"
    assert rows[m2.id][3] == "the file reference expired and the message is deleted"
    reads = sum(isinstance(r, functions.channels.GetMessagesRequest)
                for _, r in env.fake.requests) - reads_before
    assert reads >= 2  # each message read again for a fresh reference
    assert [p.read_bytes() for p in stored_files(env.data_dir)] == [kept]


async def test_deleted_before_download_still_kept(env: Env) -> None:
    await restart(env, MEDIA="off")
    await ask(env, env.admin, "/watch @news_test")
    data = noise_jpeg(30)
    msg = env.world.post(env.news, "Удалят через секунду", media="photo", media_data=data)
    await wait_until(lambda: _state(env, msg.id, "pending"), within=30)
    env.world.delete(env.news, [msg.id])  # the reference it came with still works
    await restart(env, MEDIA="on")
    await wait_until(lambda: _state(env, msg.id, "stored"), within=30)
    assert [p.read_bytes() for p in stored_files(env.data_dir)] == [data]


async def test_flood_wait_and_failing_disk_back_off(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    app = env.running
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_1")
    started = time.monotonic()
    data = noise_jpeg(40)
    msg = env.world.post(env.news, "Фото", media="photo", media_data=data)
    await wait_until(lambda: _state(env, msg.id, "stored"), within=30)
    assert time.monotonic() - started >= 1.0  # waited the flood out (plus a margin)
    assert app.media.flood_waits == 1
    # the disk refuses: the temporary folder cannot be created (a file is in its way)
    app.media.limits = MediaLimits(retry_base=dt.timedelta(seconds=0.3))
    tmp = env.data_dir / "media" / "tmp"
    for leftover in tmp.iterdir():
        leftover.unlink()
    tmp.rmdir()
    tmp.write_text("in the way")
    data2 = noise_jpeg(41)
    msg2 = env.world.post(env.news, "Фото 2", media="photo", media_data=data2)

    async def retried() -> bool:
        row = await app.database.fetchone(
            "SELECT attempts, last_error FROM post_media pm JOIN posts p ON p.id = pm.post_id"
            " WHERE p.message_id = ?", (msg2.id,))
        return row is not None and row[0] >= 2 and "FileExistsError" in str(row[1])
    await wait_until(retried)
    tmp.unlink()  # space comes back
    await wait_until(lambda: _state(env, msg2.id, "stored"), within=30)
    sha = hashlib.sha256(data2).hexdigest()
    assert (env.data_dir / "media" / sha[:2] / f"{sha}.jpg").read_bytes() == data2
    # after max_attempts the file is given up, with the reason
    app.media.limits = MediaLimits(retry_base=dt.timedelta(seconds=0.1), max_attempts=2)
    for leftover in tmp.iterdir():
        leftover.unlink()
    tmp.rmdir()
    tmp.write_text("in the way")
    msg3 = env.world.post(env.news, "Фото 3", media="photo", media_data=noise_jpeg(42))
    await wait_until(lambda: _state(env, msg3.id, "failed"), within=30)
    row = await app.database.fetchone(
        "SELECT last_error FROM post_media pm JOIN posts p ON p.id = pm.post_id"
        " WHERE p.message_id = ?", (msg3.id,))
    assert row is not None and row[0].startswith("2 attempts: FileExistsError")


async def test_server_errors_retried_later(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    app = env.running
    app.media.limits = MediaLimits(retry_base=dt.timedelta(seconds=0.2))
    # Telethon itself tries a 500 six times (2 s apart) before giving up: 8 errors fail the
    # first attempt; the second, 0.2 s later, gets through after two more
    env.world.rpc_errors[functions.upload.GetFileRequest] = [
        types.RpcError(500, "INTERNAL") for _ in range(8)]
    data = noise_jpeg(50)
    msg = env.world.post(env.news, "Фото", media="photo", media_data=data)
    await wait_until(lambda: _state(env, msg.id, "stored"), within=40)
    row = await app.database.fetchone("SELECT attempts, last_error FROM post_media")
    assert row is not None and tuple(row) == (1, None)
    assert [p.read_bytes() for p in stored_files(env.data_dir)] == [data]


async def test_quota_stops_downloads_and_tells_admins_once(env: Env) -> None:
    first = noise_jpeg(60)
    quota_gb = (len(first) + 1000) / (1 << 30)
    await restart(env, MEDIA_MAX_GB=f"{quota_gb:.12f}")
    await ask(env, env.admin, "/watch @news_test")
    ask_alert = await ask(env, env.admin, "/alert фото")
    assert "#1" in ask_alert
    m1 = env.world.post(env.news, "фото один", media="photo", media_data=first)
    await wait_until(lambda: _state(env, m1.id, "stored"), within=30)
    m2 = env.world.post(env.news, "фото два", media="photo", media_data=noise_jpeg(61))
    m3 = env.world.post(env.news, "фото три", media="photo", media_data=noise_jpeg(62))
    await settled(env, 3)
    states = {r[0]: r[1] for r in await media_rows(env)}
    assert states == {m1.id: "stored", m2.id: "quota", m3.id: "quota"}
    await wait_for(lambda: any("media store is full" in t for t in env.notices_to(ADMIN)))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 3)  # alerts go on
    assert sum("media store is full" in t for t in env.notices_to(ADMIN)) == 1
    # the quota raised: what was skipped is fetched at the next start
    await restart(env, MEDIA_MAX_GB="1")
    await wait_until(lambda: _state(env, m3.id, "stored"), within=30)
    await wait_until(lambda: _state(env, m2.id, "stored"), within=30)
    assert len(stored_files(env.data_dir)) == 3


async def test_restart_resumes_newest_first_and_clears_partial_files(env: Env) -> None:
    await restart(env, MEDIA="off")
    await ask(env, env.admin, "/watch @news_test")
    images = [noise_jpeg(70 + i) for i in range(4)]
    posts = [env.world.post(env.news, f"Пост {i}", media="photo", media_data=data)
             for i, data in enumerate(images)]

    async def queued() -> bool:
        return await env.count("SELECT COUNT(*) FROM post_media WHERE state = 'pending'") == 4
    await wait_until(queued)
    await env.stop_app()
    leftover = env.data_dir / "media" / "tmp" / "123-456.part"  # a crash mid-download
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(images[0][:1000])
    asked = len(get_file_requests(env))
    env.settings["MEDIA"] = "on"
    await env.start_app()
    await settled(env, 4)
    assert not leftover.exists()
    order = []
    for req in get_file_requests(env)[asked:]:
        assert isinstance(req.location, types.InputPhotoFileLocation)
        if req.offset == 0:
            order.append(req.location.id)
    ids = [p.media.photo.id for p in posts if isinstance(p.media, types.MessageMediaPhoto)]
    assert order == ids[::-1]  # newest first
    assert sorted(p.read_bytes() for p in stored_files(env.data_dir)) == sorted(images)


async def test_alerts_do_not_wait_for_downloads(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    # every download is held up by a long flood wait: alerts still arrive at once
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_30")
    started = time.monotonic()
    msg = env.world.post(env.news, "дрон на фото", media="photo", media_data=noise_jpeg(80))
    await wait_for(lambda: env.alerts_to(ADMIN), within=5)
    assert time.monotonic() - started < 3
    assert await _state(env, msg.id, "pending")
    assert env.running.media.flood_waits == 1


async def test_similar_lists_posts_with_the_same_picture(env: Env, tmp_path: Path) -> None:
    other = env.world.add_channel(2222222, "Другой канал", "other_test")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/watch @other_test")
    picture = scene(7)
    first = encode(picture, quality=92)
    repost = encode(picture.resize((480, 360)), quality=60)  # another channel's re-encoding
    m1 = env.world.post(env.news, "Оригинал", media="photo", media_data=first)
    m2 = env.world.post(other, "Перепост", media="photo", media_data=repost)
    env.world.post(env.news, "Другое фото", media="photo", media_data=encode(scene(8)))
    await settled(env, 3)
    assert await env.count("SELECT COUNT(*) FROM media WHERE phash IS NOT NULL") == 3
    env.world.delete(other, [m2.id])
    await wait_until(lambda: _is_deleted(env, m2.id))
    await env.stop_app()
    query = tmp_path / "query.png"
    picture.save(query, "PNG")  # the analyst's own copy, in another format
    cli_env = child_env(env.data_dir)
    code, out, err = await run_cli(["similar", str(query), "--json"], cli_env, tmp_path)
    assert code == 0, err
    hits = [json.loads(line) for line in out.splitlines()]
    assert sorted((h["channel_username"], h["message_id"]) for h in hits) == [
        ("news_test", m1.id), ("other_test", m2.id)]
    assert all(h["distance"] <= 8 for h in hits)
    by_channel = {h["channel_username"]: h for h in hits}
    assert by_channel["other_test"]["deleted_at"] is not None
    assert file_bytes(by_channel["news_test"]["file"]) == first
    assert file_bytes(by_channel["other_test"]["file"]) == repost
    assert "2 posts with a similar image" in err
    exact = min(h["distance"] for h in hits)
    code, out, err = await run_cli(["similar", str(query), "--max-distance", str(exact),
                                    "--json"], cli_env, tmp_path)
    assert code == 0 and err.startswith("chanwatch: ")
    assert {json.loads(line)["distance"] for line in out.splitlines()} == {exact}
    assert len(out.splitlines()) < len(hits) or len({h["distance"] for h in hits}) == 1
    # bad input: one clear line, exit code 2
    for args, message in ((["similar", str(tmp_path / "none.jpg")], "no such file"),
                          (["similar", __file__], "is not an image that can be read"),
                          (["similar", str(query), "--max-distance", "65"],
                           "--max-distance must be from 0 to 64")):
        code, out, err = await run_cli(args, cli_env, tmp_path)
        assert (code, out) == (2, "") and message in err and err.count("\n") == 1, err
    await env.start_app()  # the fixture stops it


async def _is_deleted(env: Env, message_id: int) -> bool:
    return await env.count("SELECT COUNT(*) FROM posts WHERE message_id = ? AND channel_id ="
                           " 2222222 AND deleted_at IS NOT NULL", message_id) == 1


async def reply_with(env: Env, text: str, reply_to: int | None) -> str:
    """The admin replies to one of the bot's messages; the bot's answer."""
    message = env.world.private_message(env.bot, env.admin, text, reply_to=reply_to)

    def answer() -> str | None:
        return next((m.text for m in env.world.sent_to(ADMIN) if m.reply_to == message.id),
                    None)
    await wait_for(answer)
    found = answer()
    assert found is not None
    return found


async def test_similar_as_a_reply_to_an_alert(env: Env) -> None:
    other = env.world.add_channel(2222222, "Другой канал", "other_test")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/watch @other_test")
    await ask(env, env.admin, "/alert обстрел")
    picture = scene(9)
    env.world.post(env.news, "Обстрел окраины", media="photo",
                   media_data=encode(picture, quality=90))
    env.world.post(env.news, "Без фото: обстрел")
    repost = env.world.post(other, "Смотрите, что пишут", media="photo",
                            media_data=encode(picture.resize((320, 240)), quality=50))
    env.world.post(other, "Другое", media="photo", media_data=encode(scene(10)))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2)
    await settled(env, 3)
    with_photo, without = env.alerts_to(ADMIN)
    reply = await reply_with(env, "/similar", with_photo.msg_id)
    assert reply.startswith("🖼 Other stored posts with this picture: 1\n• Другой канал · "), reply
    assert reply.endswith(" · post · 2 bits apart") or reply.endswith(" · post · the same picture")
    sent = next(m for m in env.world.sent_to(ADMIN) if m.text == reply)
    assert f'<a href="https://t.me/other_test/{repost.id}">post</a>' in sent.html
    # what cannot be answered gets a clear line
    assert "carries no photo" in await reply_with(env, "/similar", without.msg_id)
    assert "not one of my alerts" in await reply_with(env, "/similar", 999_999)
    assert "Reply to one of my alerts with /similar" in await ask(env, env.admin, "/similar")
    # an alert whose photo is not downloaded yet
    env.world.rpc_errors[functions.upload.GetFileRequest] = types.RpcError(420, "FLOOD_WAIT_30")
    env.world.post(env.news, "Новый обстрел", media="photo", media_data=encode(scene(11)))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 3)
    assert "not downloaded yet" in await reply_with(env, "/similar",
                                                    env.alerts_to(ADMIN)[-1].msg_id)


async def test_backfill_and_catch_up_download_too(env: Env) -> None:
    # three photo posts before /watch: backfilled (BACKFILL_POSTS, default 200)
    before = [env.world.post(env.news, f"До подписки {i}", media="photo",
                             media_data=noise_jpeg(90 + i), deliver=False) for i in range(3)]
    await ask(env, env.admin, "/watch @news_test")
    await settled(env, 3)
    # two more while the live updates do not arrive: caught up by the reconciler
    missed = [env.world.post(env.news, f"Пропущенный {i}", media="photo",
                             media_data=noise_jpeg(95 + i), deliver=False) for i in range(2)]
    await env.running.run_reconcile("test")
    await settled(env, 5)
    sources = await env.running.database.fetchall(
        "SELECT p.message_id, p.source, pm.state FROM post_media pm JOIN posts p"
        " ON p.id = pm.post_id ORDER BY p.message_id")
    assert [tuple(r) for r in sources] == (
        [(m.id, "backfill", "stored") for m in before]
        + [(m.id, "reconcile", "stored") for m in missed])
    assert len(stored_files(env.data_dir)) == 5


async def test_evidence_bundle_written_and_verified(env: Env, tmp_path: Path) -> None:
    await restart(env, MEDIA_MAX_MB="1")
    await ask(env, env.admin, "/watch @news_test")
    photo = noise_jpeg(100)
    m1 = env.world.post(env.news, "Обстрел: фото", media="photo", media_data=photo)
    m2 = env.world.post(env.news, "Обстрел: видео", media="video", mime_type="video/mp4",
                        media_data=random.Random(5).randbytes((1 << 20) + 10))
    env.world.post(env.news, "Прогноз погоды")
    await settled(env, 2)
    env.world.edit(env.news, m1.id, "Обстрел: фото (исправлено)")
    env.world.delete(env.news, [m1.id])
    await wait_until(lambda: _deleted(env, m1.id))
    await env.stop_app()
    cli_env = child_env(env.data_dir)
    bundle = tmp_path / "case-42"
    code, out, err = await run_cli(["export", "--evidence", str(bundle), "обстрел"], cli_env,
                                   tmp_path)
    assert code == 0, err
    assert "evidence bundle" in err and "2 posts, 1 files" in err and "1 files not kept" in err
    records = [json.loads(line) for line in (bundle / "posts.jsonl").read_text().splitlines()]
    assert [r["message_id"] for r in records] == [m1.id, m2.id]
    first, second = records
    assert first["text"] == "Обстрел: фото (исправлено)" and first["deleted_at"]
    assert [v["text"] for v in first["versions"]] == ["Обстрел: фото"]
    sha = hashlib.sha256(photo).hexdigest()
    assert first["media"] == [{"kind": "photo", "mime": "image/jpeg", "size": len(photo),
                               "state": "stored", "sha256": sha,
                               "file": f"media/{sha[:2]}/{sha}.jpg"}]
    assert second["media"][0]["state"] == "too_large" and second["media"][0]["file"] is None
    assert file_bytes(str(bundle / first["media"][0]["file"])) == photo
    info = json.loads((bundle / "ABOUT.json").read_text())
    manifest = (bundle / "MANIFEST.sha256").read_bytes()
    noted = hashlib.sha256(manifest).hexdigest()
    assert (bundle / "BUNDLE.sha256").read_text() == f"{noted}  MANIFEST.sha256\n"
    assert (info["query"], info["posts"], info["files"]) == ("обстрел", 2, 1)
    assert "ABOUT.json" in manifest.decode() and noted in err
    assert not (tmp_path / "case-42.partial").exists()
    # sha256sum itself agrees with the manifest
    for listing in ("MANIFEST.sha256", "BUNDLE.sha256"):
        proc = await asyncio.create_subprocess_exec("sha256sum", "--quiet", "-c", listing,
                                                    cwd=bundle)
        assert await proc.wait() == 0
    code, out, err = await run_cli(["verify", str(bundle), "--expect", noted], cli_env,
                                   tmp_path)
    assert (code, out) == (0, "") and f"3 files verified; bundle sha256 {noted}" in err
    # tampering: a changed file, a removed one, an added one
    image = bundle / first["media"][0]["file"]
    image.write_bytes(photo[:-1] + b"\x00")
    (bundle / "notes.txt").write_text("added later")
    code, out, err = await run_cli(["verify", str(bundle)], cli_env, tmp_path)
    assert code == 1 and f"changed: {first['media'][0]['file']}" in out
    assert "not in the manifest: notes.txt" in out and "the bundle changed" in err
    (bundle / "posts.jsonl").unlink()
    code, out, err = await run_cli(["verify", str(bundle)], cli_env, tmp_path)
    assert code == 1 and "missing: posts.jsonl" in out
    (bundle / "MANIFEST.sha256").write_bytes(manifest.replace(b"posts.jsonl", b"posts.json"))
    code, out, err = await run_cli(["verify", str(bundle)], cli_env, tmp_path)
    assert code == 1 and "is not BUNDLE.sha256" in out
    # bad input: one clear line, exit code 2, nothing written
    for args, message in (
            (["export", "--evidence", str(bundle)], "exists already"),
            (["export", "--evidence", str(tmp_path / "b2"), "--format", "csv"],
             "either --format csv|jsonl|gexf or --evidence DIR"),
            (["export"], "either --format"),
            (["verify", str(tmp_path / "nowhere")], "no such directory"),
            (["verify", str(env.data_dir)], "not a chanwatch evidence bundle")):
        code, out, err = await run_cli(args, cli_env, tmp_path)
        assert (code, out) == (2, "") and message in err, (args, err)
    assert not (tmp_path / "b2").exists()
    await env.start_app()  # the fixture stops it


async def _deleted(env: Env, message_id: int) -> bool:
    return await env.count("SELECT COUNT(*) FROM posts WHERE message_id = ? AND channel_id ="
                           " ? AND deleted_at IS NOT NULL", message_id, env.news.id) == 1


async def test_a_picture_replaced_under_the_same_text_is_kept_too(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    old, new = noise_jpeg(110), noise_jpeg(111)
    msg = env.world.post(env.news, "Подпись не меняется", media="photo", media_data=old)
    await settled(env, 1)
    env.world.edit(env.news, msg.id, "Подпись не меняется", photo=new)
    await settled(env, 2)
    assert [r[1:3] for r in await media_rows(env)] == [
        ("stored", hashlib.sha256(old).hexdigest()), ("stored", hashlib.sha256(new).hexdigest())]
    # the same edit seen again (a re-read) files nothing more
    env.world.edit(env.news, msg.id, "Подпись не меняется")
    await env.running.run_deletion_check()
    assert await env.count("SELECT COUNT(*) FROM post_media") == 2


async def test_a_file_renamed_into_place_before_a_crash_still_gets_its_hash(env: Env) -> None:
    await restart(env, MEDIA="off")
    await ask(env, env.admin, "/watch @news_test")
    data = encode(scene(12))
    msg = env.world.post(env.news, "Фото", media="photo", media_data=data)
    await wait_until(lambda: _state(env, msg.id, "pending"), within=30)
    # the crash: the file had been renamed into the store, its row was never committed
    files = env.running.media.files
    files.make_temp()
    (files.tmp / "x.part").write_bytes(data)
    assert files.put(files.tmp / "x.part", "jpg").new
    await restart(env, MEDIA="on")
    await wait_until(lambda: _state(env, msg.id, "stored"), within=30)
    row = await env.running.database.fetchone("SELECT phash FROM media")
    assert row is not None and row[0] is not None
    assert row[0] == image_phash(env.running.media.files.path(hashlib.sha256(data).hexdigest(),
                                                              "jpg"))


async def test_a_row_that_cannot_be_read_ends_failed_not_stuck(env: Env) -> None:
    await restart(env, MEDIA="off")
    await ask(env, env.admin, "/watch @news_test")
    bad = env.world.post(env.news, "Испорченная запись", media="photo",
                         media_data=noise_jpeg(120))
    good = env.world.post(env.news, "Раньше, но цела", media="photo",
                          media_data=noise_jpeg(121), date=bad.date - dt.timedelta(minutes=1))
    await wait_until(lambda: _state(env, good.id, "pending"), within=30)
    await env.running.database.transaction(lambda conn: conn.execute(
        "UPDATE post_media SET ref = x'deadbeef' WHERE post_id = (SELECT id FROM posts"
        " WHERE message_id = ? AND channel_id = ?)", (bad.id, env.news.id)))
    await restart(env, MEDIA="on")
    # the older one is not held up
    await wait_until(lambda: _state(env, good.id, "stored"), within=30)
    row = await env.running.database.fetchone(
        "SELECT pm.state, pm.last_error FROM post_media pm JOIN posts p ON p.id = pm.post_id"
        " WHERE p.message_id = ?", (bad.id,))
    assert row is not None and row[0] == "failed"
    assert row[1] == "the kept media cannot be read: TypeNotFoundError"


async def test_a_videos_first_frame_is_hashed_from_its_telegram_thumbnail(
        env: Env, tmp_path: Path) -> None:
    other = env.world.add_channel(2222222, "Другой канал", "other_test")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/watch @other_test")
    frame = scene(9)
    clip = b"\x00\x00\x00\x18ftypmp42" + random.Random(9).randbytes(20_000)
    video = env.world.post(env.news, "Видео с места", media="video", media_data=clip,
                           mime_type="video/mp4", file_name="clip.mp4",
                           thumb_data=encode(frame.resize((320, 240)), quality=70))
    # the same scene as a photo in another channel; a video without a thumbnail; a video
    # whose thumbnail is no picture
    photo = env.world.post(other, "Кадр из видео", media="photo", media_data=encode(frame))
    env.world.post(env.news, "Без превью", media="video", media_data=clip[:5000] + b"x",
                   mime_type="video/mp4", file_name="bare.mp4")
    env.world.post(env.news, "Битое превью", media="video", media_data=clip[:6000] + b"y",
                   mime_type="video/mp4", file_name="broken.mp4", thumb_data=b"not a jpeg")
    await settled(env, 4)
    rows = await env.running.database.fetchall(
        "SELECT p.message_id, pm.state, m.phash IS NOT NULL FROM post_media pm"
        " JOIN posts p ON p.id = pm.post_id JOIN media m ON m.sha256 = pm.sha256"
        " ORDER BY p.channel_id, p.message_id")
    assert [tuple(r[1:]) for r in rows] == [("stored", 1), ("stored", 0), ("stored", 0),
                                            ("stored", 1)]
    # the video is stored as it was sent; only its hash comes from the thumbnail
    assert hashlib.sha256(clip).hexdigest() in {
        p.stem for p in stored_files(env.data_dir)}
    await env.stop_app()
    query = tmp_path / "frame.png"
    frame.save(query, "PNG")
    code, out, err = await run_cli(["similar", str(query), "--json"],
                                   child_env(env.data_dir), tmp_path)
    assert code == 0, err
    assert sorted(json.loads(line)["message_id"] for line in out.splitlines()) == sorted(
        [video.id, photo.id])
    await env.start_app()
