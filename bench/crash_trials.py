"""More kill -9 trials than the suite runs: the durability test, N trials per fsync policy.

Runs ``tests/loopback/test_durability.py::test_kill_9_at_random_points_loses_nothing_acknowledged``
with ``MOO_CRASH_TRIALS_PER_POLICY`` raised (the suite uses 8, so 24 trials), each trial a real
server killed with SIGKILL while appending to the journal or writing a checkpoint, then
restarted and checked: every acknowledged change present, every checkpoint a true point in
time. Prints JSON and writes bench/results/crash_trials.json.

    .venv/bin/python bench/crash_trials.py --per-policy 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/loopback/test_durability.py::test_kill_9_at_random_points_loses_nothing_acknowledged"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-policy", type=int, default=40, help="trials per fsync policy")
    args = parser.parse_args()
    env = {**os.environ, "MOO_CRASH_TRIALS_PER_POLICY": str(args.per_policy)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=0", TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    summary = {
        "trials": args.per_policy * 3,
        "per_policy": args.per_policy,
        "policies": ["always", "everysec", "no"],
        "passed": result.returncode == 0,
        "seconds": round(seconds, 1),
        "pytest_summary": result.stdout.strip().splitlines()[-1] if result.stdout else "",
    }
    if result.returncode != 0:
        summary["failure"] = result.stdout[-4000:]
    print(json.dumps(summary, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "crash_trials.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
