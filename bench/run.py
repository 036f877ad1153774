"""Run every benchmark in turn; each prints ours against a baseline measured in the same run."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["site.py", "invites.py", "outbox.py", "api.py", "parts.py"]


def main() -> int:
    """Run the benchmarks named on the command line, or all of them."""
    names = sys.argv[1:] or BENCHMARKS
    failed = 0
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        failed += subprocess.run([sys.executable, HERE / name]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
