"""Bad input through the Python API (`load_observations`) and the command line (`deepearth inspect`).

Every bad file is built in tmp_path from real rows of the bundled NEON Florida table (or the ISU Darwin Core Archive).
The API must raise one `DeepEarthInputError` paragraph that says what is wrong; `deepearth inspect` must print that
paragraph on stderr and exit 2, with no traceback.
"""
import gzip, re, shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from deepearth.cli import main
from deepearth.config import DeepEarthConfig, DeepEarthInputError
from deepearth.data import load_observations, read_config

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'
FLORIDA_YAML = ROOT / 'data/neon/neon_florida_multitaxa.yaml'
ISU = ROOT / 'data/gbif/isu_birds_dwca'
DEEPEARTH = Path(sys.executable).parent / 'deepearth'


@pytest.fixture(scope='module')
def rows():
    "40 real rows of the Florida table (birds at DSNY, then other groups)."
    return pd.read_csv(FLORIDA, nrows=40)


def cli(args, capsys):
    "Run `deepearth` in this process: (exit code, stdout, stderr)."
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def check_both(path, config, expected, capsys):
    "The API raises DeepEarthInputError containing `expected`; the CLI exits 2 with it as one paragraph on stderr."
    with pytest.raises(DeepEarthInputError, match=expected):
        load_observations(path, config)
    code, out, err = cli(['inspect', path] + (['--config', config] if config else []), capsys)
    assert code == 2, (out, err)
    assert 'Traceback' not in err and '\n\n' not in err.strip(), err
    assert err.startswith('deepearth inspect: error: ') and re.search(expected, err), err


def test_missing_file(tmp_path, capsys):
    check_both(tmp_path / 'florida.csv', None, r'does not exist', capsys)
    shutil.copy(FLORIDA, tmp_path / 'florida.csv.gz')
    check_both(tmp_path / 'florida.csv', None, r"Did you mean .*florida\.csv\.gz", capsys)


def test_empty_files(tmp_path, capsys):
    (tmp_path / 'empty.csv').write_text('')
    check_both(tmp_path / 'empty.csv', None, r'is empty', capsys)
    with gzip.open(tmp_path / 'empty.csv.gz', 'wt') as f: f.write('')
    check_both(tmp_path / 'empty.csv.gz', None, r'is empty', capsys)


def test_header_only(tmp_path, rows, capsys):
    rows.head(0).to_csv(tmp_path / 'header.csv', index=False)
    check_both(tmp_path / 'header.csv', FLORIDA_YAML, r'has a header but no data rows', capsys)


def test_no_header(tmp_path, rows, capsys):
    rows[['latitude', 'longitude', 'elevation', 'observation_datetime', 'value']].to_csv(
        tmp_path / 'noheader.csv', index=False, header=False)
    check_both(tmp_path / 'noheader.csv', None, r'looks like data, not column names', capsys)


def test_missing_configured_column_lists_close_matches(tmp_path, rows, capsys):
    rows.rename(columns={'taxon_name': 'taxonName'}).to_csv(tmp_path / 'renamed.csv', index=False)
    check_both(tmp_path / 'renamed.csv', FLORIDA_YAML,
               r"no column 'taxon_name' \(modality 'species'\)\. Did you mean 'taxonName' or .*Columns found \(15\)", capsys)


def test_missing_coordinate_columns(tmp_path, rows, capsys):
    rows.rename(columns={'latitude': 'northing', 'longitude': 'easting'}).to_csv(tmp_path / 'nolat.csv', index=False)
    check_both(tmp_path / 'nolat.csv', None, r'has no latitude/longitude column', capsys)


def test_duplicate_column_names(tmp_path, rows, capsys):
    rows[['latitude', 'longitude', 'observation_datetime', 'value', 'value']].to_csv(tmp_path / 'dup.csv', index=False)
    check_both(tmp_path / 'dup.csv', None, r"duplicate column names: 'value' \(columns 4, 5\)", capsys)


def test_duplicate_columns_in_a_dataframe(rows):
    df = pd.concat([rows[['latitude', 'longitude', 'observation_datetime']], rows[['value']], rows[['value']]], axis=1)
    with pytest.raises(DeepEarthInputError, match='duplicate column names'):
        load_observations(df)


def test_categorical_column_given_as_numerical(tmp_path, rows, capsys):
    rows.to_csv(tmp_path / 'ok.csv', index=False)
    (tmp_path / 'num.yaml').write_text(
        'modality_configs:\n  species: {input_type: numerical, column_names: [taxon_name]}\n')
    check_both(tmp_path / 'ok.csv', tmp_path / 'num.yaml', r"'taxon_name'.*configured as numerical.*declare it categorical",
               capsys)


def test_a_few_non_numbers_are_counted_and_kept_as_missing(rows):
    odd = rows.assign(value=rows['value'].astype(str))
    odd.loc[[2, 9], 'value'] = ['n/a', '>5']
    obs = load_observations(odd, read_config(FLORIDA_YAML))
    assert obs.report.rows_kept == 40
    assert obs.report.invalid_values == {'value': 2} and obs.report.invalid_examples == {'value': [3, 10]}
    assert obs.df['value'].isna().sum() == 2 and obs.report.missing['value'] == 2


def test_every_row_rejected_says_why(tmp_path, rows, capsys):
    rows.assign(latitude=91.0).to_csv(tmp_path / 'lat91.csv', index=False)
    check_both(tmp_path / 'lat91.csv', FLORIDA_YAML,
               r'All 40 rows .* were rejected: coordinates_out_of_range 40 .*e\.g\. rows 1, 2, 3', capsys)
    rows.assign(observation_datetime='someday').to_csv(tmp_path / 'notime.csv', index=False)
    check_both(tmp_path / 'notime.csv', FLORIDA_YAML, r'All 40 rows .* unparseable_time 40', capsys)


def test_out_of_range_values_are_reported_not_guessed(rows):
    odd = rows.copy()
    odd.loc[0, 'latitude'] = 91.0
    odd.loc[1, 'longitude'] = -181.0
    odd.loc[2, 'observation_datetime'] = '3024-06-09 10:05:00'
    odd.loc[3, 'latitude'] = None
    r = load_observations(odd, read_config(FLORIDA_YAML)).report
    assert r.rejected == {'no_coordinates': 1, 'coordinates_out_of_range': 2, 'time_out_of_range': 1}
    assert r.examples == {'no_coordinates': [4], 'coordinates_out_of_range': [1, 2], 'time_out_of_range': [3]}
    assert r.rows_kept == 36 and r.rows_read == 40


def test_reserved_column_name_as_modality(tmp_path, rows, capsys):
    rows.rename(columns={'value': 'time'}).to_csv(tmp_path / 'reserved.csv', index=False)
    (tmp_path / 'reserved.yaml').write_text(
        'columns: {timestamp: observation_datetime}\n'
        'modality_configs:\n  abundance: {input_type: numerical, column_names: [time]}\n')
    check_both(tmp_path / 'reserved.csv', tmp_path / 'reserved.yaml', r"reads column 'time', a name DeepEarth reserves",
               capsys)


def test_corrupt_gzip(tmp_path, capsys):
    (tmp_path / 'broken.csv.gz').write_bytes(FLORIDA.read_bytes()[:20] + b'not gzip any more')
    check_both(tmp_path / 'broken.csv.gz', None, r'cannot be read', capsys)


def test_split_column_missing_names_derived_columns(tmp_path, rows, capsys):
    "A split column that is neither in the table nor derived: the error says how to derive it."
    rows.to_csv(tmp_path / 'ok.csv', index=False)
    cfg = read_config(FLORIDA_YAML)
    cfg.derived_columns = {}
    with pytest.raises(DeepEarthInputError, match=r"no column 'event_id' \(split\.column; if it is a derived column"):
        load_observations(tmp_path / 'ok.csv', cfg)
    assert 'event_id' in load_observations(tmp_path / 'ok.csv', read_config(FLORIDA_YAML)).df  # derived by the config


def dwca_copy(tmp_path, meta_text):
    d = tmp_path / 'archive'
    d.mkdir()
    shutil.copy(ISU / 'occurrence.txt', d / 'occurrence.txt')
    (d / 'meta.xml').write_text(meta_text)
    return d


def test_malformed_meta_xml(tmp_path, capsys):
    meta = (ISU / 'meta.xml').read_text()
    check_both(dwca_copy(tmp_path, meta[:5000]), None, r'meta\.xml is not valid XML', capsys)


def test_meta_xml_without_core_file(tmp_path, capsys):
    meta = (ISU / 'meta.xml').read_text().replace('<location>occurrence.txt</location>', '')
    check_both(dwca_copy(tmp_path, meta), None, r'names no data file', capsys)


def test_meta_xml_with_a_bad_index(tmp_path, capsys):
    meta = (ISU / 'meta.xml').read_text().replace('index="3"', 'index="three"', 1)
    check_both(dwca_copy(tmp_path, meta), None, r"index 'three', which is not a column number", capsys)


def test_folder_without_meta_xml(tmp_path, capsys):
    (tmp_path / 'plain').mkdir()
    shutil.copy(ISU / 'occurrence.txt', tmp_path / 'plain' / 'occurrence.txt')
    check_both(tmp_path / 'plain', None, r'folder without meta\.xml', capsys)


def test_bad_config_file(tmp_path, rows, capsys):
    rows.to_csv(tmp_path / 'ok.csv', index=False)
    (tmp_path / 'bad.yaml').write_text('split: {kind: chronological}\n')
    check_both(tmp_path / 'ok.csv', tmp_path / 'bad.yaml', r"`split\.kind`: 'chronological'", capsys)


def test_timestamp_column_empty_in_some_rows_uses_the_components(rows):
    "The seed's bug: a timestamp key present but NaN was used as the time. Here the components fill it."
    df = rows[['latitude', 'longitude', 'observation_datetime', 'taxon_name']].copy()
    ts = pd.to_datetime(df.observation_datetime)
    df = df.assign(year=ts.dt.year, month=ts.dt.month, day=ts.dt.day)
    df.loc[:9, 'observation_datetime'] = None
    cfg = DeepEarthConfig.from_dict({'modality_configs': {'species': {'column_name': 'taxon_name'}}})
    obs = load_observations(df, cfg)
    assert obs.report.rows_kept == 40
    got = pd.to_datetime(obs.df.time, unit='s')
    assert (got[:10].dt.date == ts[:10].dt.date).all() and (got[:10].dt.hour == 12).all()  # date kept, default noon
    assert obs.report.defaults_filled == {'hour': 10}


def test_real_console_script_exits_2_without_traceback(tmp_path):
    assert DEEPEARTH.exists(), f'the console script is not installed at {DEEPEARTH}'
    r = subprocess.run([str(DEEPEARTH), 'inspect', str(tmp_path / 'missing.csv')], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and 'does not exist' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = subprocess.run([str(DEEPEARTH), 'inspect'], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and 'the following arguments are required: data' in r.stderr, r.stderr
