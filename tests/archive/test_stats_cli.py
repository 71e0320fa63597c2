"""``chanwatch stats``: the caption on stdout, the chart in --png, one line for bad input."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main
from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from tests.archive.conftest import Filled

WINDOW = ("--since", "2024-11-27", "--until", "2024-11-28", "--tz", "Europe/Kyiv")


@pytest.fixture(scope="session")
def stats_places_cache(tmp_path_factory: pytest.TempPathFactory, lemmatizer: Lemmatizer,
                       ) -> Path:
    """The compiled gazetteer the tools cache beside the database, compiled once."""
    cache = tmp_path_factory.mktemp("stats-places-cache")
    PlaceMatcher.cached(lemmatizer, cache)
    return cache


@pytest.fixture
def tool_db(filled: Filled, tmp_path: Path, stats_places_cache: Path) -> Path:
    """The filled database, with the gazetteer cache where ``chanwatch`` looks for it."""
    shutil.copytree(stats_places_cache, tmp_path / "cache", dirs_exist_ok=True)
    return tmp_path / "test.sqlite3"


async def _cli(db: Path, *args: str) -> int:
    return await asyncio.to_thread(main, ["stats", "--db", str(db), *args])


async def test_cli_prints_the_caption_and_writes_the_png(
        tool_db: Path, tmp_path: Path, filled: Filled,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.png"
    assert await _cli(tool_db, "Украина", *WINDOW, "--png", str(out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "📊 Украина · 2024-11-27 00:00 – 2024-11-28 23:59 (Europe/Kyiv)"
    assert lines[1].split()[1] == "posts" and int(lines[1].split()[0]) > 0
    assert lines[2].startswith("Top channels: ")
    image = Image.open(io.BytesIO(out.read_bytes()))
    assert image.format == "PNG" and image.size == (800, 360)
    # a chat's rule, named with --chat
    await filled.rules.add(1, "Путин", 1)
    assert await _cli(tool_db, "rule", "1", "--chat", "1", *WINDOW) == 0
    assert capsys.readouterr().out.startswith("📊 rule #1 Путин · ")
    assert await asyncio.to_thread(lambda: list(tmp_path.glob(".stats-*"))) == []


async def test_cli_empty_and_bad_input(tool_db: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.png"
    assert await _cli(tool_db, "Несуществующееслово", *WINDOW, "--png", str(out)) == 1
    assert "no stored post matches Несуществующееслово" in capsys.readouterr().err
    cases = [
        (("Белгород AND (", *WINDOW), "cannot understand the query"),
        (("rule", "1", *WINDOW), "--chat"),
        (("region", "Атлантидаград", *WINDOW), "Атлантидаград"),
        (("x", "--since", "2020-01-01"), "too long"),
        (("x", "--png", str(tmp_path / "no" / "dir.png")), "cannot write"),
    ]
    for args, message in cases:
        assert await _cli(tool_db, "--png", str(out), *args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("chanwatch: ") and message in err and "Traceback" not in err
    assert not out.exists()
