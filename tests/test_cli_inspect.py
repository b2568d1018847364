"""`deepearth inspect` and `deepearth demo` through the real console script on the bundled data: the report's numbers.

Each test starts the installed console script (a few seconds); the quick run keeps help, the Florida table and the
Darwin Core Archive, the full run (`make test`) all of them."""
import json, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEEPEARTH = Path(sys.executable).parent / 'deepearth'


def deepearth(*args, cwd=ROOT):
    assert DEEPEARTH.exists(), f'the console script is not installed at {DEEPEARTH}'
    r = subprocess.run([str(DEEPEARTH), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def inspect_json(path, *extra):
    return json.loads(deepearth('inspect', path, '--json', *extra))


def test_help_lists_the_subcommands():
    out = deepearth('--help')
    assert 'inspect' in out and 'demo' in out
    out = deepearth('inspect', '--help')
    assert '--config CFG' in out and '--json' in out and 'Darwin Core Archive' in out


def test_florida_table_with_its_yaml():
    doc = inspect_json('data/neon/neon_florida_multitaxa.csv.gz')
    assert doc['config_source'] == 'beside the data' and doc['config_path'].endswith('neon_florida_multitaxa.yaml')
    r, s = doc['report'], doc['summary']
    assert (r['rows_read'], r['rows_kept'], r['rejected']) == (84829, 84829, {})
    assert r['defaults_filled'] == {'hour': 26664}  # date-only mosquito, beetle and small-mammal samples
    assert r['missing']['nlcdClass'] == 15289
    assert s['modalities']['species']['n_unique_values'] == 1132
    assert s['modalities']['taxon_group']['n_unique_values'] == 9
    assert s['modalities']['abundance']['log_transform'] is True
    assert s['temporal_extent']['year_range'] == [2013, 2023]
    lat, lon = s['spatial_extent']['lat_range'], s['spatial_extent']['lon_range']
    assert 28.03 < lat[0] < 28.05 and 29.72 < lat[1] < 29.74 and -82.04 < lon[0] < -82.02 and -81.40 < lon[1] < -81.38


def test_isu_darwin_core_archive():
    r = inspect_json('data/gbif/isu_birds_dwca')['report']
    assert (r['rows_read'], r['rows_kept']) == (3253, 2461)
    assert r['rejected'] == {'no_coordinates': 729, 'no_time': 63}  # each row once, under its first reason
    assert r['problems'] == {'no_coordinates': 729, 'no_time': 466}  # every problem
    assert r['multi_problem_rows'] == 403
    assert r['columns']['latitude'] == 'decimalLatitude' and r['columns']['timestamp'] == 'eventDate'


@pytest.mark.slow  # a few seconds each: the console script starts Python, pandas and torch
def test_rato_darwin_core_csv():
    doc = inspect_json('data/gbif/rato_belgium/occurrence.csv')
    assert (doc['report']['rows_read'], doc['report']['rows_kept']) == (7402, 7402)
    assert doc['summary']['temporal_extent']['year_range'] == [2023, 2023]
    assert doc['summary']['modalities']['species']['sample_values']['Ondatra zibethicus'] == 5700


@pytest.mark.slow  # a few seconds each: the console script starts Python, pandas and torch
def test_neon_birds_parquet():
    doc = inspect_json('data/neon/neon_birds.parquet')
    r, s = doc['report'], doc['summary']
    assert (r['rows_read'], r['rows_kept']) == (302186, 302186)
    assert r['missing']['startRH'] == 9325 and r['missing']['observerDistance'] == 4435
    assert s['modalities']['species']['n_unique_values'] == 589
    assert s['modalities']['weather']['n_dimensions'] == 4


@pytest.mark.slow  # a few seconds each: the console script starts Python, pandas and torch
def test_demo_inspects_the_default_data_from_anywhere_in_the_clone():
    out = deepearth('demo', '--inspect-only', cwd=ROOT / 'nbs')
    assert 'neon_florida_multitaxa.yaml (beside the data)' in out
    assert '84,829 rows read, 84,829 kept, 0 rejected' in out
    assert 'species (categorical, taxon_name): 1,132 classes' in out


@pytest.mark.slow  # a few seconds each: the console script starts Python, pandas and torch
def test_inferred_config_is_printed_and_reads_back(tmp_path):
    shutil.copy(ROOT / 'data/gbif/rato_belgium/occurrence.csv', tmp_path / 'rato.csv')
    out = deepearth('inspect', tmp_path / 'rato.csv')
    assert 'config: inferred' in out and f"save it as {tmp_path / 'rato.yaml'}" in out
    yaml_text = out.split('or pass it with --config):\n\n', 1)[1]
    assert 'scientificName: {input_type: categorical, column_name: scientificName}' in yaml_text
    (tmp_path / 'saved.yaml').write_text(yaml_text)
    doc = inspect_json(tmp_path / 'rato.csv', '--config', tmp_path / 'saved.yaml')
    assert doc['config_source'] == 'given' and doc['inferred_config'] is None
    assert doc['report']['rows_kept'] == 7402
    assert 'scientificName' in doc['summary']['modalities'] and 'occurrenceID' not in doc['summary']['modalities']
