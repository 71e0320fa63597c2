"""Run every benchmark under bench/ and print their JSON lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    quick = sys.argv[1:2] == ["--quick"]
    for script in ("reconcile_requests.py", "ingest.py", "match.py", "fanout.py", "latency.py",
                   "media.py"):
        print(f"# {script}", flush=True)
        extra = ["--quick"] if quick and script == "match.py" else []
        subprocess.run([sys.executable, str(HERE / script), *extra], check=True)
