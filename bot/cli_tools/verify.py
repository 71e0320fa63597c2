"""``chanwatch verify DIR``: re-check an evidence bundle (bot/media/bundle.py).

Every file MANIFEST.sha256 lists is hashed again; changed, missing and added files are
named, and the manifest's hash is compared with BUNDLE.sha256 and with ``--expect HASH`` (the
hash noted down when the bundle was handed over: only that one pins it). Exit code 0: the
bundle is as it was written; 1: something changed; 2: not a bundle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli_tools import Tool
from bot.cli_tools.archive import fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("bundle", type=Path, help="the directory chanwatch export --evidence"
                                                  " wrote")
    parser.add_argument("--expect", metavar="SHA256", default=None,
                        help="the bundle hash noted down when the bundle was made")


def run(args: argparse.Namespace) -> int:
    """Verify the bundle and report; the exit code."""
    from bot.media.bundle import BundleError, verify_bundle

    if not args.bundle.is_dir():
        return fail(f"no such directory: {args.bundle}")
    try:
        result = verify_bundle(args.bundle, args.expect)
    except BundleError as exc:
        return fail(str(exc))
    for label, paths in (("changed", result.changed), ("missing", result.missing),
                         ("not in the manifest", result.extra)):
        for path in paths:
            print(f"{label}: {path}")
    if not result.bundle_ok:
        against = "the one expected" if args.expect else "BUNDLE.sha256"
        print(f"changed: MANIFEST.sha256 (its hash {result.bundle_sha256} is not {against})")
    if result.ok:
        print(f"chanwatch: {result.checked} files verified; bundle sha256"
              f" {result.bundle_sha256}", file=sys.stderr)
        return 0
    problems = (len(result.changed) + len(result.missing) + len(result.extra)
                + (not result.bundle_ok))
    print(f"chanwatch: the bundle changed: {problems} problems, {result.checked} files"
          " checked", file=sys.stderr)
    return 1


TOOL = Tool("verify", "re-check an evidence bundle's hashes", add_arguments, run)
