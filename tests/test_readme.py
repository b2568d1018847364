"""The README's Python example runs as it stands: the first ```python block under "## In Python" of README.md is
executed from the repository root, with its run folder moved to a temporary one. It must train, test and print the
metrics table of every target beside the baselines."""
import re, subprocess, sys

import pytest

from browser import ROOT

pytestmark = pytest.mark.slow  # it trains (50 steps of the tiny preset) and fits the baselines


def readme_example() -> str:
    "The first python block of the README's 'In Python' section."
    txt = (ROOT / 'README.md').read_text()
    section = txt.split('## In Python', 1)[1].split('\n## ', 1)[0]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_readme_python_example(tmp_path):
    code = readme_example()
    assert "out='reports/quick'" in code and 'run_training' in code and len(code.strip().splitlines()) <= 6, code
    code = code.replace("out='reports/quick'", f"out={str(tmp_path / 'quick')!r}")
    r = subprocess.run([sys.executable, '-c', 'import torch; torch.set_num_threads(1)\n' + code], cwd=ROOT,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    for word in ('species', 'location', 'prior', 'knn', 'gbm'): assert word in r.stdout, r.stdout
    assert {'config.yaml', 'metrics.json', 'history.jsonl', 'best.pt'} <= {p.name for p in (tmp_path / 'quick').iterdir()}
