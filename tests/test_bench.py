"`deepearth bench --quick` runs and records every row; its timings are recorded, never asserted."
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {'name', 'what', 'size', 'seconds', 'throughput', 'unit', 'peak_mem_mb', 'mem_method', 'timing', 'reference',
          'reference_throughput', 'ratio', 'targets', 'extra'}
WITH_REFERENCE = {'data_load', 'data_fit', 'data_preprocess', 'contexts_build_epoch', 'contexts_epoch', 'grid4d_seed',
                  'grid4d_earth4d', 'mla', 'moe'}
WITHOUT = {'bandwidth_copy', 'bandwidth_gather', 'train_tiny', 'train_small'}


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench')
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'bench', '--quick', '--out', str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    return r, out


@pytest.mark.slow
def test_bench_quick_runs(quick):
    r, out = quick
    assert r.returncode == 0, r.stderr[-3000:]
    assert '| benchmark |' in r.stdout  # the table is printed too


@pytest.mark.slow
def test_bench_json_schema(quick):
    _, out = quick
    rec = json.loads((out / 'bench.json').read_text())
    assert rec['quick'] is True and rec['total_seconds'] > 0
    m = rec['machine']
    assert {'cpu', 'cores', 'torch', 'torch_threads', 'date', 'git_commit', 'load_average'} <= set(m)
    assert m['cores'] >= 1 and len(m['load_average']) == 3
    names = [row['name'] for row in rec['rows']]
    assert set(names) == WITH_REFERENCE | WITHOUT, names  # no demo in quick mode
    assert len(names) == len(set(names))
    for row in rec['rows']:
        assert set(row) == FIELDS, row['name']
        assert row['seconds'] > 0 and row['throughput'] > 0 and row['unit'] and row['timing'], row['name']
        assert row['peak_mem_mb'] is None or row['peak_mem_mb'] >= 0, row['name']
        if row['name'] in WITH_REFERENCE:
            assert row['reference'] and row['reference_throughput'] > 0 and row['ratio'] > 0, row['name']
            assert abs(row['ratio'] - row['throughput'] / row['reference_throughput']) < 1e-9 * row['ratio']
        else:
            assert row['reference'] is None and row['ratio'] is None, row['name']
        for t in row['targets']:
            assert {'what', 'kind', 'threshold', 'met'} <= set(t) and isinstance(t['met'], bool), (row['name'], t)
    rows = {row['name']: row for row in rec['rows']}
    # the targets are attached to their rows
    assert [t['kind'] for t in rows['data_preprocess']['targets']] == ['ratio', 'throughput']
    assert rows['contexts_epoch']['targets'][0]['threshold'] == 50_000
    assert rows['grid4d_seed']['targets'][0]['threshold'] == 5
    assert rows['train_small']['targets'][0]['threshold'] == 2000
    for g in ('grid4d_seed', 'grid4d_earth4d'):
        assert 0 < rows[g]['extra']['fraction_of_copy'] and rows[g]['extra']['achieved_gb_per_s'] > 0
    assert rows['grid4d_earth4d']['extra']['levels'] > rows['grid4d_seed']['extra']['levels']


@pytest.mark.slow
def test_bench_markdown(quick):
    _, out = quick
    md = (out / 'bench.md').read_text()
    rec = json.loads((out / 'bench.json').read_text())
    assert md.startswith('# DeepEarth benchmarks (quick)')
    assert '| benchmark | size | time | throughput | peak mem (MiB) | reference | ratio | target |' in md
    table = [l for l in md.splitlines() if l.startswith('| ') and not l.startswith('| benchmark')]
    assert len(table) == len(rec['rows'])
    assert sum('**met**' in l or '**missed**' in l for l in table) == sum(bool(r['targets']) for r in rec['rows'])


def test_bench_bad_option_exits_2(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'bench', '--quick', '--only', 'nothing', '--out',
                        str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert r.returncode == 2 and "invalid choice: 'nothing'" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    (tmp_path / 'file').write_text('x')
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'bench', '--quick', '--out', str(tmp_path / 'file')],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert r.returncode == 2 and 'is a file' in r.stderr, r.stderr
