"""Tables larger than memory: loading in chunks gives exactly the rows, report, statistics and training of loading in
one piece, and its memory does not grow with the table (measured on a SYNTHETIC 10x enlargement of the NEON birds
table, made by jittering its real rows with tools/enlarge.py, written to a temporary folder)."""
import json, mmap, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import deepearth.data as data
from deepearth.data import load_observations, read_config
from deepearth.preprocess import DatasetStatistics
from deepearth.splits import make_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
from enlarge import enlarge  # noqa: E402

BIRDS, BIRDS_CFG = ROOT / 'data/neon/neon_birds.parquet', ROOT / 'data/neon/neon_birds.yaml'
BENCH = ROOT / 'tests/benchmarks/bench_scale.py'
SOURCES = {  # source, config, rows per chunk: Parquet batches, read_csv chunks, and an archive read whole then cut
    'neon_birds.parquet': (BIRDS, BIRDS_CFG, 50_000),
    'neon_florida_multitaxa.csv.gz': (ROOT / 'data/neon/neon_florida_multitaxa.csv.gz',
                                      ROOT / 'data/neon/neon_florida_multitaxa.yaml', 10_000),
    'isu_birds_dwca': (ROOT / 'data/gbif/isu_birds_dwca', ROOT / 'data/gbif/isu_birds_dwca.yaml', 500),
}


def as_whole(chunked: pd.DataFrame, whole: pd.DataFrame) -> pd.DataFrame:
    "The chunked frame as plain arrays, its categoricals turned back into the whole load's text dtype."
    return pd.DataFrame({c: chunked[c].astype(whole[c].dtype) if isinstance(chunked[c].dtype, pd.CategoricalDtype)
                         else np.array(chunked[c].to_numpy()) for c in chunked.columns})


def mapped(a) -> bool:
    "True if the array's memory is a memory-mapped file."
    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)): return True
        a = getattr(a, 'base', None)
    return False


def report(obs) -> dict:
    d = obs.report.to_dict()
    d.pop('seconds'); d.pop('notes')
    return d


@pytest.mark.parametrize('name', list(SOURCES))
def test_chunked_load_equals_whole(name):
    src, cfg, size = SOURCES[name]
    whole, chunked = load_observations(src, cfg, chunk_rows=0), load_observations(src, cfg, chunk_rows=size)
    assert chunked.report.rows_read > 2 * size  # several chunks
    assert list(chunked.df.columns) == list(whole.df.columns)
    text = [c for c in whole.df.columns if not pd.api.types.is_numeric_dtype(whole.df[c])]
    assert text and all(isinstance(chunked.df[c].dtype, pd.CategoricalDtype) for c in text)
    pd.testing.assert_frame_equal(as_whole(chunked.df, whole.df), whole.df)
    assert report(chunked) == report(whole)
    assert any('read in chunks' in n for n in chunked.report.notes)


def test_cached_load_equals_whole_and_is_memory_mapped(tmp_path):
    "With cache_dir, the kept columns live in files and are memory-mapped; values and report are those of one piece."
    src, cfg, _ = SOURCES['isu_birds_dwca']
    whole, cached = load_observations(src, cfg, chunk_rows=0), load_observations(src, cfg, chunk_rows=500, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(as_whole(cached.df, whole.df), whole.df)
    assert report(cached) == report(whole)
    numeric = [c for c in whole.df.columns if pd.api.types.is_numeric_dtype(whole.df[c])]
    assert all(mapped(cached.df[c].to_numpy()) for c in numeric)  # the numbers stay in the files
    assert not any(mapped(whole.df[c].to_numpy()) for c in numeric)
    files = list(tmp_path.glob('deepearth-columns-*/*.bin'))
    assert len(files) == len(whole.df.columns)
    assert sum(f.stat().st_size for f in files) > 2461 * 8 * 9  # the kept rows, on disk


def test_chunked_rejections_span_chunks():
    "The GBIF archive's 729 rows without coordinates fall in many chunks of 500; counts and first examples add up."
    src, cfg, _ = SOURCES['isu_birds_dwca']
    rep = load_observations(src, cfg, chunk_rows=500).report
    assert rep.rows_read == 3253 and rep.rows_kept == 2461
    assert rep.rejected['no_coordinates'] == 729
    assert len(rep.examples['no_coordinates']) == data.N_EXAMPLES


def test_chunked_altitude_outliers_use_whole_table_moments():
    "The outlier test needs the mean and std of all valid altitudes: the chunked load takes a first pass for them."
    cfg = read_config(BIRDS_CFG)
    cfg.altitude_outlier_std = 2.0
    whole, chunked = load_observations(BIRDS, cfg, chunk_rows=0), load_observations(BIRDS, cfg, chunk_rows=40_000)
    assert whole.report.rejected['altitude_outlier'] > 10_000  # the high sites (up to 3,535 m) are outliers at 2 std
    assert report(chunked) == report(whole)
    np.testing.assert_array_equal(chunked.df.source_row, whole.df.source_row)


def test_chunked_split_and_statistics_equal_whole():
    "Split (grouped by the event id, a categorical when chunked) and training statistics are the same."
    whole, chunked = load_observations(BIRDS, BIRDS_CFG, chunk_rows=0), load_observations(BIRDS, BIRDS_CFG, chunk_rows=50_000)
    sw, sc = make_split(whole.df, whole.config.split), make_split(chunked.df, chunked.config.split)
    for part in ('train', 'val', 'test'): np.testing.assert_array_equal(sw[part], sc[part])
    stw = DatasetStatistics.fit(whole, rows=sw['train'])
    stc = DatasetStatistics.fit(chunked, rows=sc['train'])
    assert stw.to_dict() == stc.to_dict()
    assert stw.n_classes('species') > 500


def test_auto_chunks_above_threshold(monkeypatch):
    "A Parquet file with more rows than AUTO_CHUNK_ROWS is loaded in chunks without being asked; chunk_rows=0 refuses."
    monkeypatch.setattr(data, 'AUTO_CHUNK_ROWS', 100_000)
    assert any('read in chunks' in n for n in load_observations(BIRDS, BIRDS_CFG).report.notes)
    assert not any('read in chunks' in n for n in load_observations(BIRDS, BIRDS_CFG, chunk_rows=0).report.notes)


def test_enlarge_is_labelled_jittered_real_rows(tmp_path):
    "tools/enlarge.py: copy 0 is the real table; the others move each row by at most 300 m and 3 days, nothing else."
    path = enlarge(2, tmp_path)
    assert 'SYNTHETIC' in path.name and 'SYNTHETIC' in (tmp_path / f'{path.stem}.yaml').read_text()
    meta = json.loads(pq.read_schema(path).metadata[b'deepearth_synthetic'])
    assert meta['factor'] == 2 and meta['rows'] == 2 * 302_186
    src, big = pq.read_table(BIRDS), pq.read_table(path)
    n = len(src)
    moved = ['latitude', 'longitude', 'observation_datetime']
    assert big.slice(0, n).replace_schema_metadata(None).equals(src.replace_schema_metadata(None))  # copy 0: the real rows
    copy = big.slice(n)
    assert copy.drop_columns(moved).replace_schema_metadata(None).equals(src.drop_columns(moved).replace_schema_metadata(None))
    copy, src = copy.select(moved).to_pandas(), src.select(moved).to_pandas()
    dlat = (copy.latitude - src.latitude).abs() * 111_320
    dlon = (copy.longitude - src.longitude).abs() * 111_320 * np.cos(np.radians(src.latitude))
    dt = (copy.observation_datetime - src.observation_datetime).abs()
    assert dlat.max() <= 300.01 and dlon.max() <= 300.01 and dlat.max() > 250
    assert dt.max() <= pd.Timedelta(days=3) and dt.max() > pd.Timedelta(days=2)
    assert (copy.observation_datetime.dt.second == 0).all()  # still minute precision


def bench(mode, path, chunk_rows, steps=3, cache_dir=None) -> dict:
    "One measurement of tests/benchmarks/bench_scale.py in a fresh process: its peak RSS is its own."
    r = subprocess.run([sys.executable, str(BENCH), '--worker', mode, str(path), str(chunk_rows), str(steps)]
                       + ([str(cache_dir)] if cache_dir else []), capture_output=True, text=True,
                       env={'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_chunked_memory_is_bounded_on_10x(tmp_path):
    "Loading a 10x enlargement in chunks into a cache adds less than 3x what loading the real table whole adds."
    path = enlarge(10, tmp_path)
    one = bench('load', BIRDS, 0)  # the real table, in one piece (the usual path)
    ten = bench('load', path, data.CHUNK_ROWS, cache_dir=tmp_path / 'cache')  # ten times the rows, in chunks
    assert ten['rows_read'] == 10 * one['rows_read'] and ten['rows_kept'] == 10 * one['rows_kept']
    assert ten['rejected'] == 10 * one['rejected']
    grow = lambda r: r['rss_after_load_mb'] - r['rss_imports_mb']  # what loading added to the process
    assert grow(ten) < 3 * grow(one), (one, ten)  # measured: 265 MB vs 210 MB (10x the rows)


@pytest.mark.slow
def test_training_from_the_cache(tmp_path):
    "Load in chunks into a cache, prepare and take 3 training steps: the same losses as from the table in one piece."
    cached = bench('train', BIRDS, 100_000, cache_dir=tmp_path)
    whole = bench('train', BIRDS, 0)
    assert cached['steps'] == 3 and np.isfinite(cached['final_loss'])
    assert cached['final_loss'] == whole['final_loss']
