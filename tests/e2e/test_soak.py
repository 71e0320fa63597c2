"""The soak (bench/soak.py), short: 45 s of traffic with bursts and a dropped connection every
15 s against the real service; nothing missing, no alert twice, tasks and WAL bounded. The
30-minute run is `python bench/soak.py` (README "Faults survived")."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import soak


def test_a_short_soak_loses_nothing_and_stays_bounded() -> None:
    result = soak.main(["--minutes", "0.75", "--disconnect", "15"])
    assert result["disconnects"] == 2
    assert result["missing_posts"] == 0
    assert result["alerts"] == result["alerts_expected"] and result["alerts_twice"] == 0
    assert 0 < float(result["tasks_max"]) <= 60  # type: ignore[arg-type]
    assert float(result["wal_mb_max"]) < 64  # type: ignore[arg-type]
