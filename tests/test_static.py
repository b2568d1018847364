"Static tables (`time: none`): a real table without its time column loads, inspects, trains, evaluates and maps."
import json, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from deepearth.config import DeepEarthConfig, DeepEarthInputError

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data' / 'neon' / 'neon_florida_multitaxa.csv.gz'
CONFIG = """preset: tiny
time: none
columns: {latitude: latitude, longitude: longitude, altitude: elevation}
modality_configs:
  species: {input_type: categorical, column_name: taxon_name}
  taxon_group: {input_type: categorical, column_name: taxon_group}
  abundance: {input_type: numerical, column_names: [value], log_transform: true}
split: {kind: group, column: place, test_fraction: 0.2, val_fraction: 0.1, seed: 0}
ecological_columns: []
derived_columns: {place: [siteID, latitude, longitude]}
"""


@pytest.fixture(scope='module')
def static_table(tmp_path_factory):
    "The NEON Florida rows (every 4th) with the time column dropped, and a `time: none` config beside them."
    d = tmp_path_factory.mktemp('static')
    raw = pd.read_csv(FLORIDA).iloc[::4].drop(columns='observation_datetime')
    data = d / 'florida_static.csv'
    raw.to_csv(data, index=False)
    (d / 'florida_static.yaml').write_text(CONFIG)
    return data


def _cli(*args):
    return subprocess.run([sys.executable, '-m', 'deepearth.cli', *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})


def test_time_none_with_time_columns_is_an_error(tmp_path, static_table):
    "A config that declares no time but names a time column contradicts itself: exit 2, one paragraph naming both."
    with pytest.raises(DeepEarthInputError, match='names time column'):
        DeepEarthConfig.from_yaml_text(CONFIG.replace('altitude: elevation}', 'altitude: elevation, timestamp: date}'))
    bad = tmp_path / 'bad.yaml'
    bad.write_text(CONFIG.replace('altitude: elevation}', 'altitude: elevation, year: yr}'))
    r = _cli('inspect', static_table, '--config', bad)
    assert r.returncode == 2, r.stderr
    assert 'time: none' in r.stderr and 'year: yr' in r.stderr and 'Traceback' not in r.stderr


def test_timed_config_on_static_table_suggests_time_none(tmp_path, static_table):
    "Without `time: none`, a table with no time column fails as before, and the message offers the declaration."
    cfg = tmp_path / 'timed.yaml'
    cfg.write_text(CONFIG.replace('time: none\n', ''))
    r = _cli('inspect', static_table, '--config', cfg)
    assert r.returncode == 2 and 'time: none' in r.stderr, r.stderr


def test_inspect_says_static(static_table):
    r = _cli('inspect', static_table)
    assert r.returncode == 0, r.stderr
    assert 'time: none (static table' in r.stdout
    assert '0 rejected' in r.stdout


def test_train_evaluate_and_map(tmp_path, static_table):
    "Training (tiny, a few dozen steps) and evaluation run; no time target anywhere; a map of the field is drawn."
    from deepearth.train import run_training
    out = tmp_path / 'run'
    res = run_training(static_table, preset='tiny', out=out, max_steps=30, max_test_rows=200, progress=False)
    assert res['time'] == 'none' and res['steps'] == 30
    metrics = json.loads((out / 'metrics.json').read_text())
    assert set(metrics['targets']) == {'species', 'taxon_group', 'abundance', 'location'}
    assert metrics['targets']['species']['context']['neighbours']['temporal'] == 0
    hist = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    assert not any(k.startswith('loss/time') for r in hist for k in r)
    assert 'time: none' in (out / 'config.yaml').read_text()
    ck = __import__('torch').load(out / 'best.pt', map_location='cpu', weights_only=False)
    assert not any(k.startswith(('time_in.', 'decoders.time.')) for k in ck['model'])
    r = _cli('map', out / 'best.pt', '--out', tmp_path / 'map.html')
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'map.html').stat().st_size > 10_000
