"""The benchmark suite moved to `deepearth.bench` (`deepearth bench [--quick] [--out reports/bench]`); this script runs it.

    python tests/benchmarks/bench_data.py [--quick] [--out reports/bench] [--only data ...]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))

from deepearth.cli import main  # noqa: E402

if __name__ == '__main__': sys.exit(main(['bench', *sys.argv[1:]]))
