"The data benchmark runs and records numbers; its timings are recorded, never asserted."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_data_quick(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / 'tests' / 'benchmarks' / 'bench_data.py'), '--quick', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 'bench.json').read_text())
    assert {'dataset', 'loader', 'environment', 'vectorised', 'rowwise', 'speedup', 'targets'} <= set(rec)
    assert set(rec['vectorised']) == {'read_parquet', 'load_validate', 'fit', 'transform', 'mask', 'preprocess'}
    assert set(rec['rowwise']) == set(rec['speedup']) == {'load_validate', 'fit', 'transform', 'mask', 'preprocess'}
    for stage in (*rec['vectorised'].values(), *rec['rowwise'].values()):
        assert stage['rows'] > 0 and stage['seconds'] > 0 and stage['rows_per_s'] > 0
    assert all(v > 0 for v in rec['speedup'].values())
    assert 0 < rec['dataset']['rows'] <= 20_000 and rec['quick'] is True
    assert '| transform |' in (tmp_path / 'bench.md').read_text()
