"""Run every benchmark under bench/ and print their JSON lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script in ("reconcile_requests.py", "ingest.py"):
        print(f"# {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
