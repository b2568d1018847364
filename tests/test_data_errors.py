"""The loader's answers to imperfect data that are not errors, and one error only a DataFrame can make.

The bad-input cases (exit 2 and one paragraph from `deepearth inspect`, `DeepEarthInputError` from `load_observations`)
are one table in tests/test_bad_input.py. Here: values kept as missing or rejected and counted, the timestamp column
filled from the components, and duplicate column names in a DataFrame. Every table is built from real rows of the
bundled NEON Florida table.
"""
from pathlib import Path

import pandas as pd
import pytest

from deepearth.config import DeepEarthConfig, DeepEarthInputError
from deepearth.data import load_observations, read_config

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'
FLORIDA_YAML = ROOT / 'data/neon/neon_florida_multitaxa.yaml'


@pytest.fixture(scope='module')
def rows():
    "40 real rows of the Florida table (birds at DSNY, then other groups)."
    return pd.read_csv(FLORIDA, nrows=40)


def test_duplicate_columns_in_a_dataframe(rows):
    df = pd.concat([rows[['latitude', 'longitude', 'observation_datetime']], rows[['value']], rows[['value']]], axis=1)
    with pytest.raises(DeepEarthInputError, match='duplicate column names'):
        load_observations(df)


def test_a_few_non_numbers_are_counted_and_kept_as_missing(rows):
    odd = rows.assign(value=rows['value'].astype(str))
    odd.loc[[2, 9], 'value'] = ['n/a', '>5']
    obs = load_observations(odd, read_config(FLORIDA_YAML))
    assert obs.report.rows_kept == 40
    assert obs.report.invalid_values == {'value': 2} and obs.report.invalid_examples == {'value': [3, 10]}
    assert obs.df['value'].isna().sum() == 2 and obs.report.missing['value'] == 2


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


def test_split_column_derived_by_the_config(tmp_path, rows):
    "The split column event_id is not in the file: the dataset YAML derives it (without it: tests/test_bad_input.py)."
    rows.to_csv(tmp_path / 'ok.csv', index=False)
    obs = load_observations(tmp_path / 'ok.csv', read_config(FLORIDA_YAML))
    assert 'event_id' in obs.df and obs.df['event_id'].notna().all()
