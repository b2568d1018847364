"""Bad input, one table of cases: each through the command line and through the Python API.

A user error exits 2 with one paragraph on stderr (`deepearth COMMAND: error: ...`, no traceback) and raises
`DeepEarthInputError` with the same key phrase in the API. Input that is unusual but valid (classes never seen in
training, times after the training period, a constant column) must work: exit 0, and the oddity reported. An internal
error keeps its traceback (the last test).

Every bad file is built in tmp_path from real bundled data: rows of the NEON Florida table, the ISU Darwin Core
Archive, and a checkpoint trained for a few steps on a 2,000-row subset of Florida (2014-2019). Each case runs the CLI
in this process through `deepearth.cli.main` (the console script's entry point); for one case of each kind of failure
a `subprocess` variant (marked slow) runs `python -m deepearth.cli` as a real process. API-only checks of the loader that are not errors (values kept
as missing, rows rejected and counted) are in tests/test_data_errors.py.
"""
from __future__ import annotations

import gzip, json, re, shutil, subprocess, sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import torch

from deepearth.cli import evaluation_data, main
from deepearth.config import DeepEarthConfig, DeepEarthInputError, preset
from deepearth.data import load_observations, read_config
from deepearth.evaluate import evaluate
from deepearth.preprocess import DatasetStatistics, UNKNOWN_ID, N_SPECIAL
from deepearth.splits import make_split
from deepearth.train import load_checkpoint, read_checkpoint, run_training

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'
FLORIDA_YAML = ROOT / 'data/neon/neon_florida_multitaxa.yaml'
ISU = ROOT / 'data/gbif/isu_birds_dwca'
ISU_YAML = ROOT / 'data/gbif/isu_birds_dwca.yaml'


# ---------------------------------------------------------------- real data the cases edit

@pytest.fixture(scope='module')
def florida():
    "The whole Florida table, with its years."
    df = pd.read_csv(FLORIDA, low_memory=False)
    return df, pd.to_datetime(df.observation_datetime, format='mixed').dt.year.to_numpy()


@pytest.fixture(scope='module')
def rows(florida):
    "40 real rows of the Florida table (birds at DSNY)."
    return florida[0].head(40).copy()


def seeded_rows(florida, n, years, seed=0):
    df, year = florida
    pool = np.flatnonzero((year >= years[0]) & (year <= years[1]))
    return df.iloc[np.sort(np.random.default_rng(seed).choice(pool, n, replace=False))]


@pytest.fixture(scope='module')
def trained(florida, tmp_path_factory):
    "A tiny model trained for 5 steps on 2,000 Florida rows of 2014-2019: (checkpoint, its training data)."
    d = tmp_path_factory.mktemp('run')
    data = d / 'florida_2014_2019.csv'
    seeded_rows(florida, 2000, (2014, 2019)).to_csv(data, index=False)
    shutil.copy(FLORIDA_YAML, data.with_suffix('.yaml'))
    torch.set_num_threads(1)
    res = run_training(data, preset='tiny', out=d / 'out', max_steps=5, max_test_rows=50, progress=False)
    return Path(res['out_dir']) / 'last.pt', data


def write(tmp_path, name, df):
    df.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def yaml_file(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return tmp_path / name


def dwca_copy(tmp_path, meta_text):
    d = tmp_path / 'archive'
    d.mkdir()
    shutil.copy(ISU / 'occurrence.txt', d / 'occurrence.txt')
    (d / 'meta.xml').write_text(meta_text)
    return d


def meta(old, new, count=-1):
    return (ISU / 'meta.xml').read_text().replace(old, new, count)


# ---------------------------------------------------------------- the table

@dataclass
class Case:
    "One bad (or odd but valid) input: what the CLI runs, what the API calls, and the phrase both must show."
    name: str
    build: Callable  # (tmp_path, ctx) -> (CLI arguments or None, API callable or None)
    expect: str  # regex: in the CLI's stderr (stdout when code is 0) and in the API's error (or returned text)
    code: int = 2  # the CLI's exit code
    trained: bool = False  # needs the trained checkpoint (slow)
    api_expect: str | None = None  # where the API's phrase differs from the CLI's
    process: bool = False  # also run as a real process (one case per kind of failure: each costs a Python start)


class Ctx:
    "What a case's builder may use: the 40 Florida rows, the whole table, and (for some) the trained checkpoint."
    def __init__(self, rows, florida, trained=None): self.rows, self.florida, self.trained = rows, florida, trained


def inspect(path, config=None):
    return ['inspect', path] + (['--config', config] if config else []), lambda: load_observations(path, config)


# ---------------------------------------------------------------- issue 12: config types and data (helper configdata)

def with_yaml(t, c, extra, name='cfg.yaml'):
    "The Florida rows with the Florida YAML plus `extra` YAML text."
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, name, FLORIDA_YAML.read_text() + extra))


def c_test_fraction_text(t, c):
    return inspect(write(t, 'ok.csv', c.rows),
                   yaml_file(t, 'f.yaml', FLORIDA_YAML.read_text().replace('test_fraction: 0.2', 'test_fraction: "20%"')))
def c_preset_list(t, c):
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'p.yaml', FLORIDA_YAML.read_text().replace('preset: small', 'preset: [tiny]')))
def c_learning_rate_negative(t, c): return with_yaml(t, c, 'training: {learning_rate: -1}\n')
def c_n_epochs_zero(t, c): return with_yaml(t, c, 'training: {n_epochs: 0}\n')
def c_context_size_fraction(t, c): return with_yaml(t, c, 'context_size: 8.5\n')
def c_duplicate_yaml_key(t, c): return with_yaml(t, c, 'split: {kind: random}\n')
def c_duplicate_modality_name(t, c):
    text = FLORIDA_YAML.read_text().replace('modality_configs:\n', 'modality_configs:\n  species: {input_type: categorical, column_name: taxon_id}\n')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'dupmod.yaml', text))
def c_two_modalities_one_column(t, c):
    text = FLORIDA_YAML.read_text().replace('modality_configs:\n', 'modality_configs:\n  name: {input_type: categorical, column_name: taxon_name}\n')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'samecol.yaml', text))


def extra_field_file(t, c):
    path = write(t, 'extra.csv', c.rows)
    lines = path.read_text().splitlines()
    lines[5] += ',stray'
    path.write_text('\n'.join(lines) + '\n')
    return path
def c_extra_field(t, c): return inspect(extra_field_file(t, c))
def c_extra_field_config(t, c): return inspect(extra_field_file(t, c), FLORIDA_YAML)
def c_truncated_gzip(t, c):
    data = FLORIDA.read_bytes()
    (t / 'cut.csv.gz').write_bytes(data[:len(data) // 2])
    return inspect(t / 'cut.csv.gz', FLORIDA_YAML)
def c_latin1(t, c):
    df, _ = c.florida
    algae = df[df.taxon_name.str.contains('é', na=False) & ~df.taxon_name.str.contains('š', na=False)].head(40)
    algae.to_csv(t / 'latin1.csv', index=False, encoding='latin-1')
    return inspect(t / 'latin1.csv', FLORIDA_YAML)
def c_inf_values(t, c):
    odd = c.rows.assign(value=np.where(np.arange(40) % 7 == 0, np.inf, c.rows.value))
    odd.loc[3, 'latitude'] = -np.inf
    path = write(t, 'inf.csv', odd)
    return ['inspect', path, '--config', FLORIDA_YAML], lambda: load_observations(path, FLORIDA_YAML).report.summary()
def c_all_nan_modality(t, c):
    path = write(t, 'nan.csv', seeded_rows(c.florida, 300, (2014, 2019)).assign(value=np.nan))
    return (['train', path, '--config', FLORIDA_YAML, '--preset', 'tiny', '--out', t / 'run', '--no-report'],
            lambda: run_training(path, FLORIDA_YAML, preset='tiny', out=t / 'run_api'))
def c_one_place(t, c):
    path = write(t, 'one_place.csv', c.rows)  # 40 bird counts at one DSNY point
    return (['train', path, '--config', FLORIDA_YAML, '--preset', 'tiny', '--out', t / 'run', '--no-report'],
            lambda: run_training(path, FLORIDA_YAML, preset='tiny', out=t / 'run_api'))
def c_one_place_inspect(t, c):
    path = write(t, 'one_place.csv', c.rows)
    return ['inspect', path, '--config', FLORIDA_YAML], lambda: load_observations(path, FLORIDA_YAML).report.summary()
def c_longitude_0_360(t, c): return inspect(write(t, 'l360.csv', c.rows.assign(longitude=c.rows.longitude + 360)), FLORIDA_YAML)
def epoch(c): return pd.to_datetime(c.rows.observation_datetime) - pd.Timestamp('1970-01-01')
def c_epoch_ms(t, c):
    return inspect(write(t, 'ms.csv', c.rows.assign(observation_datetime=epoch(c) // pd.Timedelta('1ms'))), FLORIDA_YAML)
def c_excel_dates(t, c):
    days = (pd.to_datetime(c.rows.observation_datetime) - pd.Timestamp('1899-12-30')).dt.days
    return inspect(write(t, 'xl.csv', c.rows.assign(observation_datetime=days)), FLORIDA_YAML)
def c_decimal_comma(t, c):
    odd = c.rows.assign(latitude=c.rows.latitude.map(lambda v: f'{v}'.replace('.', ',')))
    odd.to_csv(t / 'dc.csv', index=False, sep=';')
    return inspect(t / 'dc.csv', FLORIDA_YAML)
def c_day_first_dates(t, c):
    dmy = pd.to_datetime(c.rows.observation_datetime).dt.strftime('%d/%m/%Y')
    return inspect(write(t, 'dmy.csv', c.rows.assign(observation_datetime=dmy)), FLORIDA_YAML)
def c_time_format_mismatch(t, c):
    dmy = pd.to_datetime(c.rows.observation_datetime).dt.strftime('%d/%m/%Y')
    dmy[:3] = c.rows.observation_datetime[:3]  # three ISO values among day-first dates
    path = write(t, 'dmy.csv', c.rows.assign(observation_datetime=dmy))
    cfg = yaml_file(t, 'dmy.yaml', FLORIDA_YAML.read_text() + "time_format: '%d/%m/%Y'\n")
    return ['inspect', path, '--config', cfg], lambda: load_observations(path, cfg).report.summary()
def c_crs_unknown(t, c):
    path = write(t, 'xy.csv', c.rows.rename(columns={'longitude': 'x', 'latitude': 'y'}))
    return inspect(path, yaml_file(t, 'crs.yaml', "crs: 'EPSG:99999999'\ncolumns: {timestamp: observation_datetime}\n"
                                                  "modality_configs: {species: {column_name: taxon_name}}\n"))


CASES_CONFIG_DATA = [
    Case('test_fraction as text', c_test_fraction_text, r"`split\.test_fraction`: '20%'\. Allowed: a number"),
    Case('preset as a list', c_preset_list, r"`preset`: \['tiny'\]\. Allowed: one of \['paper', 'small', 'tiny'\]"),
    Case('learning_rate negative', c_learning_rate_negative, r"`training\.learning_rate`: -1\. Allowed: a number > 0"),
    Case('n_epochs zero', c_n_epochs_zero, r"`training\.n_epochs`: 0\. Allowed: an integer >= 1"),
    Case('context_size a fraction', c_context_size_fraction, r"`context_size`: 8\.5\. Allowed: an integer"),
    Case('duplicate YAML key', c_duplicate_yaml_key, r"line 2[0-9]: the key 'split' is given twice in the same mapping \(first at line 1[0-9]\)"),
    Case('duplicate modality name', c_duplicate_modality_name, r"the key 'species' is given twice in the same mapping"),
    Case('two modalities on one column', c_two_modalities_one_column, r"`modality_configs\.species`: 'taxon_name'\. Allowed: a column not already used by modality 'name'"),
    Case('a field too many (no config)', c_extra_field, r"extra\.csv: line 6 \(data row 5\) has more fields than the 15 column names"),
    Case('a field too many (config)', c_extra_field_config, r"extra\.csv: line 6 \(data row 5\) has more fields than the 15 column names"),
    Case('truncated gzip', c_truncated_gzip, r'cut\.csv\.gz cannot be read \(EOFError.*truncated or corrupt', process=True),
    Case('Latin-1 file', c_latin1, r"latin1\.csv is not utf-8 text \(line 2\).*Set `encoding: latin-1`"),
    Case('inf values counted', c_inf_values, r"unparseable_coordinates +1 +e\.g\. rows 4.*6 values of 'value' are not finite numbers", code=0),
    Case('all-NaN modality refused before training', c_all_nan_modality,
         r"cannot train a model: modality 'abundance': column 'value' has no value in any of the 300 kept rows"),
    Case('one place refused before training', c_one_place, r"cannot train a model: every kept row is at the same place"),
    Case('one place reported by inspect', c_one_place_inspect, r"cannot train: every kept row is at the same place", code=0),
    Case('longitudes 0..360', c_longitude_0_360, r"40 rows have longitudes between 180 and 360 .*`longitude_wrap: true`"),
    Case('epoch milliseconds', c_epoch_ms, r"epoch milliseconds, not seconds .*`time_format: epoch_ms`"),
    Case('Excel serial dates', c_excel_dates, r"look like Excel serial dates .*42164 is 2015-06-09.*`time_format: excel`"),
    Case('decimal commas', c_decimal_comma, r"Values like '28,118596' in 'latitude' use a decimal comma"),
    Case('day-first dates without time_format', c_day_first_dates, r"Values like '09/06/2015' .*`time_format: '%d/%m/%Y'`"),
    Case('rows not in time_format', c_time_format_mismatch,
         r"unparseable_time +3 +e\.g\. rows 1, 2, 3.*3 values of 'observation_datetime' do not match time_format '%d/%m/%Y'", code=0),
    Case('crs unknown', c_crs_unknown, r"crs 'EPSG:99999999' is not a coordinate reference system pyproj knows"),
]


def c_missing_file(t, c): return inspect(t / 'florida.csv')


def c_missing_file_close_match(t, c):
    shutil.copy(FLORIDA, t / 'florida.csv.gz')
    return inspect(t / 'florida.csv')


def c_empty_csv(t, c):
    (t / 'empty.csv').write_text('')
    return inspect(t / 'empty.csv')


def c_empty_gzip(t, c):
    with gzip.open(t / 'empty.csv.gz', 'wt') as f: f.write('')
    return inspect(t / 'empty.csv.gz')


def c_header_only(t, c): return inspect(write(t, 'header.csv', c.rows.head(0)), FLORIDA_YAML)


def c_no_header(t, c):
    c.rows[['latitude', 'longitude', 'elevation', 'observation_datetime', 'value']].to_csv(
        t / 'noheader.csv', index=False, header=False)
    return inspect(t / 'noheader.csv')


def c_configured_column_missing(t, c):
    return inspect(write(t, 'renamed.csv', c.rows.rename(columns={'taxon_name': 'taxonName'})), FLORIDA_YAML)


def c_no_coordinate_columns(t, c):
    return inspect(write(t, 'nolat.csv', c.rows.rename(columns={'latitude': 'northing', 'longitude': 'easting'})))


def c_duplicate_column_names(t, c):
    return inspect(write(t, 'dup.csv', c.rows[['latitude', 'longitude', 'observation_datetime', 'value', 'value']]))


def c_categorical_as_numerical(t, c):
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'num.yaml',
                   'modality_configs:\n  species: {input_type: numerical, column_names: [taxon_name]}\n'))


def c_numerical_with_text(t, c):
    "A numerical column that is mostly text (a few non-numbers are kept as missing: tests/test_data_errors.py)."
    odd = c.rows.assign(value=c.rows['value'].astype(str))
    odd.loc[2:30, 'value'] = 'many'
    path = write(t, 'text.csv', odd)
    cfg = yaml_file(t, 'strict.yaml', 'modality_configs:\n  abundance: {input_type: numerical, column_names: [value]}\n')
    return inspect(path, cfg)


def c_every_row_out_of_range(t, c): return inspect(write(t, 'lat91.csv', c.rows.assign(latitude=91.0)), FLORIDA_YAML)


def c_every_time_unparseable(t, c):
    return inspect(write(t, 'notime.csv', c.rows.assign(observation_datetime='someday')), FLORIDA_YAML)


def c_reserved_column_name(t, c):
    return inspect(write(t, 'reserved.csv', c.rows.rename(columns={'value': 'time'})), yaml_file(
        t, 'reserved.yaml', 'columns: {timestamp: observation_datetime}\n'
                            'modality_configs:\n  abundance: {input_type: numerical, column_names: [time]}\n'))


def c_corrupt_gzip(t, c):
    (t / 'broken.csv.gz').write_bytes(FLORIDA.read_bytes()[:20] + b'not gzip any more')
    return inspect(t / 'broken.csv.gz')


def c_split_column_not_derived(t, c):
    text = FLORIDA_YAML.read_text()
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'noderived.yaml', text[:text.index('derived_columns:')]))


def c_meta_xml_malformed(t, c): return inspect(dwca_copy(t, (ISU / 'meta.xml').read_text()[:5000]))
def c_meta_xml_no_core_file(t, c): return inspect(dwca_copy(t, meta('<location>occurrence.txt</location>', '')))
def c_meta_xml_bad_index(t, c): return inspect(dwca_copy(t, meta('index="3"', 'index="three"', 1)))


def c_meta_xml_names_missing_file(t, c):
    return inspect(dwca_copy(t, meta('<location>occurrence.txt</location>', '<location>occurrences.txt</location>')))


def c_folder_without_meta_xml(t, c):
    (t / 'plain').mkdir()
    shutil.copy(ISU / 'occurrence.txt', t / 'plain' / 'occurrence.txt')
    return inspect(t / 'plain')


def c_invalid_config_value(t, c):
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'bad.yaml', 'split: {kind: chronological}\n'))


def c_config_not_yaml(t, c):
    text = FLORIDA_YAML.read_text().replace('  species: {input_type: categorical, column_name: taxon_name}',
                                            '  species: {input_type: categorical, column_name: taxon_name')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'broken.yaml', text))


def c_config_missing(t, c): return inspect(write(t, 'ok.csv', c.rows), t / 'nosuch.yaml')


def c_unknown_modality_column(t, c):
    "A modality whose column is not in the data."
    text = FLORIDA_YAML.read_text().replace('modality_configs:\n',
                                            'modality_configs:\n  habitat: {input_type: categorical, column_name: habitat}\n')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'habitat.yaml', text))


def c_loss_weight_for_unknown_modality(t, c):
    "A loss_weight set under a modality name the config does not define (no column)."
    text = FLORIDA_YAML.read_text().replace('modality_configs:\n', 'modality_configs:\n  habitat: {loss_weight: 2.0}\n')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'weight.yaml', text))


def c_masking_for_a_modality(t, c):
    "Masking is set for all modalities at once; a per-modality entry is an unknown field."
    text = FLORIDA_YAML.read_text() + 'masking_config: {species: 0.5}\n'
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'mask.yaml', text))


def c_preset_unknown_in_yaml(t, c):
    text = FLORIDA_YAML.read_text().replace('preset: small', 'preset: huge')
    return inspect(write(t, 'ok.csv', c.rows), yaml_file(t, 'huge.yaml', text))


def c_preset_unknown_option(t, c):
    return ['demo', '--preset', 'huge'], lambda: preset('huge')


def c_preset_unknown_train(t, c):
    return (['train', write(t, 'ok.csv', c.rows), '--config', FLORIDA_YAML, '--preset', 'huge'],
            lambda: load_observations(t / 'ok.csv', FLORIDA_YAML).config.with_preset('huge'))


def c_required_argument_missing(t, c): return ['inspect'], None


def c_checkpoint_missing(t, c):
    return ['evaluate', t / 'nosuch.pt', write(t, 'ok.csv', c.rows)], lambda: load_checkpoint(t / 'nosuch.pt')


def c_checkpoint_truncated(t, c):
    ckpt, data = c.trained
    (t / 'truncated.pt').write_bytes(ckpt.read_bytes()[:ckpt.stat().st_size // 2])
    return ['evaluate', t / 'truncated.pt', data], lambda: read_checkpoint(t / 'truncated.pt')


def c_checkpoint_truncated_field(t, c):
    ckpt, _ = c.trained
    (t / 'truncated.pt').write_bytes(ckpt.read_bytes()[:ckpt.stat().st_size // 2])
    return ['field', t / 'truncated.pt', '--out', t / 'f.nc'], lambda: load_checkpoint(t / 'truncated.pt')


def c_checkpoint_other_config(t, c):
    "evaluate --config with the config of another dataset (ISU birds) than the checkpoint's (Florida)."
    ckpt, data = c.trained
    cfg = load_checkpoint(ckpt)[1]
    return (['evaluate', ckpt, data, '--config', ISU_YAML],
            lambda: evaluation_data(ckpt, data, ISU_YAML, cfg))


def c_checkpoint_other_data(t, c):
    "A Florida checkpoint asked to score the ISU archive: read with the checkpoint's columns, which it lacks."
    ckpt, _ = c.trained
    cfg = load_checkpoint(ckpt)[1]
    return ['evaluate', ckpt, ISU], lambda: evaluation_data(ckpt, ISU, None, cfg)


def c_checkpoint_other_network(t, c):
    "A checkpoint whose weights belong to another network than its config says (the small preset's sizes)."
    ckpt, _ = c.trained
    state = torch.load(ckpt, weights_only=True)
    cfg = DeepEarthConfig.from_dict(json.loads(state['config'])).with_preset('small')
    state['config'] = json.dumps(cfg.to_dict())
    torch.save(state, t / 'other.pt')
    return ['field', t / 'other.pt', '--out', t / 'f.nc', '--resolution', '4'], lambda: load_checkpoint(t / 'other.pt')


def c_checkpoint_given_other_network(t, c):
    "load_checkpoint with a config of another network than the checkpoint's (API only: the CLI takes the checkpoint's)."
    ckpt, _ = c.trained
    return None, lambda: load_checkpoint(ckpt, config=read_config(FLORIDA_YAML).with_preset('small'))


def c_unseen_categories(t, c):
    "Every species of the data scored is one the model never saw (real ISU species names): works, reported."
    ckpt, data = c.trained
    df = pd.read_csv(data)
    isu = pd.read_csv(ISU / 'occurrence.txt', sep='\t', usecols=['species'], quoting=3).species.dropna()
    names = isu[~isu.isin(df.taxon_name)].unique()
    new = write(t, 'unseen.csv', df.assign(taxon_name=names[np.arange(len(df)) % len(names)]))

    def api():
        model, cfg, stats, _ = load_checkpoint(ckpt)
        obs = load_observations(new, cfg)
        m, frames = evaluate(model, obs, make_split(obs.df, cfg.split), stats, cfg, max_rows=50, targets=['species'],
                             return_predictions=True)
        res = m['targets']['species']['model']
        assert res['n'] == res['n_unknown'] == 50 and res['top1'] == 0.0, res
        assert frames['species']['truth'].eq('[UNKNOWN]').all()
        assert frames['species']['model'].isin(stats.vocabularies['species'][N_SPECIAL:]).all()  # training classes
        return '\n'.join(m['notes'])
    return ['evaluate', ckpt, new, '--max-rows', '50'], api


def c_future_times(t, c):
    "Real rows of 2022-2023 scored by a model trained on 2014-2019: works; times outside the range reported."
    ckpt, _ = c.trained
    new = write(t, 'future.csv', seeded_rows(c.florida, 600, (2022, 2023), seed=1))

    def api():
        model, cfg, stats, _ = load_checkpoint(ckpt)
        obs = load_observations(new, cfg)
        m = evaluate(model, obs, make_split(obs.df, cfg.split), stats, cfg, max_rows=50, targets=['time', 'abundance'])
        assert (stats.transform(obs.df)['t'] > 1).all()  # every normalised time past the training range
        for r in m['targets'].values(): assert all(v is None or np.isfinite(v) for v in r['model'].values()
                                                    if isinstance(v, float)), r
        return '\n'.join(m['notes'])
    return ['evaluate', ckpt, new, '--max-rows', '50'], api


def c_constant_numerical_column(t, c):
    "A numerical column with one value: kept, no division by zero, finite normalisation and training, reported."
    ckpt, data = c.trained
    const = write(t, 'const.csv', pd.read_csv(data).assign(value=3.0))
    shutil.copy(FLORIDA_YAML, const.with_suffix('.yaml'))

    def api():
        obs = load_observations(const, const.with_suffix('.yaml'))
        split = make_split(obs.df, obs.config.split)
        stats = DatasetStatistics.fit(obs, rows=split['train'])
        z = stats.transform(obs.df)['num/abundance']
        assert stats.numeric['abundance']['std'] == [1.0] and stats.numeric['abundance']['constant'] == [True]
        assert torch.isfinite(z).all() and (z == 0).all()
        res = run_training(obs, preset='tiny', out=t / 'const_run', max_steps=3, max_test_rows=30, progress=False)
        assert np.isfinite(res['final_train_loss'])
        return '\n'.join(stats.notes)
    return (['train', const, '--preset', 'tiny', '--max-steps', '3', '--max-test-rows', '30', '--out', t / 'run',
             '--no-report', '--no-progress'], api)


def c_constant_column_inspect(t, c):
    const = write(t, 'const.csv', c.rows.assign(value=3.0))
    from deepearth.data import format_summary, summarize
    return ['inspect', const, '--config', FLORIDA_YAML], lambda: format_summary(summarize(load_observations(const, FLORIDA_YAML)))


CASES = CASES_CONFIG_DATA + [
    # the foundation's cases (issue 2)
    Case('missing file', c_missing_file, r'does not exist', process=True),
    Case('missing file, close match', c_missing_file_close_match, r"Did you mean .*florida\.csv\.gz"),
    Case('empty file', c_empty_csv, r'is empty'),
    Case('empty gzip', c_empty_gzip, r'is empty'),
    Case('header only', c_header_only, r'has a header but no data rows'),
    Case('no header', c_no_header, r'looks like data, not column names'),
    Case('configured column missing', c_configured_column_missing,
         r"no column 'taxon_name' \(modality 'species'\)\. Did you mean 'taxonName' or .*Columns found \(15\)"),
    Case('no coordinate columns', c_no_coordinate_columns, r'has no latitude/longitude column'),
    Case('duplicate column names', c_duplicate_column_names, r"duplicate column names: 'value' \(columns 4, 5\)"),
    Case('categorical given as numerical', c_categorical_as_numerical,
         r"'taxon_name'.*configured as numerical.*declare it categorical"),
    Case('numerical column mostly text', c_numerical_with_text,
         r"Column 'value' of .* is configured as numerical, but 29 of its 40 values are not numbers \(e\.g\. 'many'\)"),
    Case('every row out of range', c_every_row_out_of_range,
         r'All 40 rows .* were rejected: coordinates_out_of_range 40 .*e\.g\. rows 1, 2, 3'),
    Case('every time unparseable', c_every_time_unparseable, r'All 40 rows .* unparseable_time 40'),
    Case('reserved column name', c_reserved_column_name, r"reads column 'time', a name DeepEarth reserves"),
    Case('corrupt gzip', c_corrupt_gzip, r'cannot be read'),
    Case('split column not derived', c_split_column_not_derived,
         r"no column 'event_id' \(split\.column; if it is a derived column"),
    Case('meta.xml malformed', c_meta_xml_malformed, r'meta\.xml is not valid XML'),
    Case('meta.xml without core file', c_meta_xml_no_core_file, r'names no data file'),
    Case('meta.xml bad index', c_meta_xml_bad_index, r"index 'three', which is not a column number"),
    Case('folder without meta.xml', c_folder_without_meta_xml, r'folder without meta\.xml', process=True),
    Case('invalid config value', c_invalid_config_value, r"`split\.kind`: 'chronological'"),
    Case('required argument missing', c_required_argument_missing, r'the following arguments are required: data', process=True),
    # issue 7
    Case('meta.xml names a missing file', c_meta_xml_names_missing_file,
         r"names the core file 'occurrences\.txt' .*which is not in .*Did you mean 'occurrence\.txt'\? Files there: "
         r"meta\.xml, occurrence\.txt", process=True),
    Case('config is not YAML', c_config_not_yaml,
         r"broken\.yaml is not valid YAML: line 1[0-9], column \d+: .*Line 1[0-9] reads", process=True),
    Case('config file missing', c_config_missing, r'Config file .*nosuch\.yaml does not exist'),
    Case('modality column not in the data', c_unknown_modality_column,
         r"no column 'habitat' \(modality 'habitat'\).*Columns found \(15\)"),
    Case('loss_weight for an unknown modality', c_loss_weight_for_unknown_modality,
         r"Modality 'habitat' \(`modality_configs\.habitat`\) names no column"),
    Case('masking entry for a modality', c_masking_for_a_modality, r"Unknown config field `masking_config\.species`"),
    Case('preset unknown in YAML', c_preset_unknown_in_yaml, r"`preset`: 'huge'\. Allowed: one of \['paper', 'small', 'tiny'\]"),
    Case('preset unknown (--preset huge, demo)', c_preset_unknown_option,
         r"argument --preset: invalid choice: 'huge' \(choose from .*paper.*small.*tiny",
         api_expect=r"`preset`: 'huge'\. Allowed: one of \['paper', 'small', 'tiny'\]", process=True),
    Case('preset unknown (--preset huge, train)', c_preset_unknown_train,
         r"argument --preset: invalid choice: 'huge'", api_expect=r"`preset`: 'huge'\. Allowed"),
    Case('checkpoint missing', c_checkpoint_missing, r'Checkpoint .*nosuch\.pt does not exist'),
    Case('checkpoint truncated (evaluate)', c_checkpoint_truncated,
         r'could not be read as a checkpoint .*The file is truncated', trained=True),
    Case('checkpoint truncated (field)', c_checkpoint_truncated_field,
         r'could not be read as a checkpoint .*The file is truncated', trained=True, process=True),
    Case('checkpoint with another config (evaluate --config)', c_checkpoint_other_config,
         r"isu_birds_dwca\.yaml is a config for other data than checkpoint .*the config has the modalities species "
         r"\(categorical: species\), sex", trained=True, process=True),
    Case('checkpoint scoring other data', c_checkpoint_other_data,
         r"Checkpoint .*last\.pt reads data with the config it was trained with, and .*isu_birds_dwca has no column "
         r"'latitude'", trained=True),
    Case('checkpoint weights of another network', c_checkpoint_other_network,
         r'do not fit the network its own config describes', trained=True),
    Case('checkpoint loaded with another network config', c_checkpoint_given_other_network,
         r'holds a different network than the given config .*cross_modal_fusion_config', trained=True),
    # odd but valid: works, and says what it saw
    Case('categories all unseen at evaluation', c_unseen_categories,
         r"species: 50 of 50 evaluated values are classes not seen in training .*\[UNKNOWN\] and count as misses",
         code=0, trained=True, process=True),
    Case('times all after the training range', c_future_times,
         r"time: \d+ of \d+ evaluated rows lie outside the training period 2014-\d\d-\d\d \.\. 2019-\d\d-\d\d "
         r"\(from 2022-\d\d-\d\d to 2023-\d\d-\d\d\)", code=0, trained=True),
    Case('constant numerical column (train)', c_constant_numerical_column, r'final train loss \d', code=0,
         trained=True, api_expect=r'abundance\.value: constant in training: std set to 1'),
    Case('constant numerical column (inspect)', c_constant_column_inspect,
         r'abundance \(numerical, log, value\): mean 3, std 0, .*; constant: it carries no information', code=0),
]


# ---------------------------------------------------------------- issue 12: runs never lost, outputs and options checked before work

_HELD_LOCKS = []  # locks this test process holds on purpose (a run "in progress" in a folder)


def c_max_steps_zero(t, c):
    from deepearth.train import run_training as rt
    return (['train', FLORIDA, '--preset', 'tiny', '--max-steps', '0', '--out', t / 'r'],
            lambda: rt(t / 'never_read.csv', max_steps=0, out=t / 'r'))


def c_epochs_zero(t, c):
    return (['train', FLORIDA, '--epochs', '0', '--out', t / 'r'],
            lambda: run_training(t / 'never_read.csv', epochs=0, out=t / 'r'))


def c_max_test_rows_negative(t, c):
    return (['demo', '--max-test-rows', '-1', '--out', t / 'd'],
            lambda: run_training(t / 'never_read.csv', max_test_rows=-1, out=t / 'd'))


def c_checkpoint_every_fraction(t, c):
    return None, lambda: run_training(t / 'never_read.csv', checkpoint_every=2.5, out=t / 'r')


def c_max_rows_zero(t, c):
    from deepearth.train import check_run_options
    return ['evaluate', t / 'nosuch.pt', write(t, 'ok.csv', c.rows), '--max-rows', '0'], lambda: check_run_options(max_rows=0)


def c_out_is_a_file(t, c):
    (t / 'afile').write_text('a file where the run folder should be')
    return (['train', FLORIDA, '--out', t / 'afile'], lambda: run_training(t / 'never_read.csv', out=t / 'afile'))


def c_out_inside_a_file(t, c):
    (t / 'afile').write_text('a file')
    return ['demo', '--out', t / 'afile' / 'run'], lambda: run_training(t / 'never_read.csv', out=t / 'afile' / 'run')


def c_evaluate_out_is_a_folder(t, c):
    from deepearth.cli import check_output_file
    (t / 'folder').mkdir()
    return (['evaluate', t / 'nosuch.pt', write(t, 'ok.csv', c.rows), '--out', t / 'folder'],
            lambda: check_output_file(t / 'folder'))


def c_json_as_checkpoint(t, c):
    (t / 'metrics.json').write_text(json.dumps({'targets': {}}))
    return ['evaluate', t / 'metrics.json', write(t, 'ok.csv', c.rows)], lambda: load_checkpoint(t / 'metrics.json')


def c_csv_as_checkpoint(t, c):
    path = write(t, 'florida.csv', c.rows)
    return ['field', path, '--out', t / 'f.nc'], lambda: read_checkpoint(path)


def c_yaml_as_checkpoint(t, c):
    return ['evaluate', FLORIDA_YAML, write(t, 'ok.csv', c.rows)], lambda: load_checkpoint(FLORIDA_YAML)


def c_run_folder_as_checkpoint(t, c):
    ckpt, data = c.trained
    return ['evaluate', ckpt.parent, data], lambda: load_checkpoint(ckpt.parent)


def c_run_folder_locked(t, c):
    "A run is writing into the folder (this process holds its lock): a second run into it is refused."
    from deepearth.train import RunLock
    (t / 'busy').mkdir()
    _HELD_LOCKS.append(RunLock(t / 'busy').acquire())
    return (['train', FLORIDA, '--preset', 'tiny', '--out', t / 'busy'],
            lambda: run_training(t / 'never_read.csv', out=t / 'busy'))


def c_demo_into_existing_run(t, c):
    "demo --out a folder that holds a run: refused (no --overwrite), the run's files untouched."
    ckpt, data = c.trained
    shutil.copytree(ckpt.parent, t / 'kept')
    before = (t / 'kept' / 'last.pt').read_bytes()

    def api():
        try: run_training(data, out=t / 'kept')
        finally: assert (t / 'kept' / 'last.pt').read_bytes() == before
    return ['demo', '--out', t / 'kept', '--max-steps', '2'], api


def c_resume_finished_run(t, c):
    "--resume of a run that reached its end and was scored: says so, exit 0, trains and scores nothing."
    from deepearth.train import _summary_text
    ckpt, data = c.trained
    shutil.copytree(ckpt.parent, t / 'done')
    before = (t / 'done' / 'metrics.json').read_text()

    def api():
        res = run_training(data, out=t / 'done', resume=True)
        assert res['already_finished'] and res['steps'] == 5 and (t / 'done' / 'metrics.json').read_text() == before
        return _summary_text(res)
    return ['train', data, '--out', t / 'done', '--resume', '--no-report'], api


TRAIN_NB = ROOT / 'nbs/experiments/train.ipynb'


def c_run_into_existing_report(t, c):
    from deepearth.experiments import run_notebook
    (t / 'rep').mkdir()
    shutil.copy(TRAIN_NB, t / 'rep' / 'train.ipynb')  # an executed notebook of an earlier run
    return ['run', TRAIN_NB, '--out', t / 'rep'], lambda: run_notebook(TRAIN_NB, {}, out=t / 'rep')


def c_run_relative_data_missing(t, c):
    from deepearth.experiments import run_notebook
    return (['run', TRAIN_NB, '-p', 'data', 'no/such.csv', '--out', t / 'r'],
            lambda: run_notebook(TRAIN_NB, {'data': 'no/such.csv'}, out=t / 'r'))


def c_run_max_steps_zero(t, c):
    from deepearth.experiments import run_notebook
    return (['run', TRAIN_NB, '-p', 'max_steps', '0', '--out', t / 'r'],
            lambda: run_notebook(TRAIN_NB, {'max_steps': 0}, out=t / 'r'))


CASES_RUNS = [
    Case('--max-steps 0', c_max_steps_zero, r'--max-steps \(max_steps= in Python\) must be at least 1.*got 0', process=True),
    Case('--epochs 0', c_epochs_zero, r'--epochs \(epochs= in Python\) must be at least 1.*got 0'),
    Case('--max-test-rows -1 (demo)', c_max_test_rows_negative, r'--max-test-rows .*must be at least 0.*got -1'),
    Case('checkpoint_every not whole', c_checkpoint_every_fraction, r'--checkpoint-every .*must be a whole number.*2\.5'),
    Case('--max-rows 0 (evaluate)', c_max_rows_zero, r'--max-rows .*must be at least 1.*got 0'),
    Case('--out is a file', c_out_is_a_file, r'afile is a file, not a folder'),
    Case('--out inside a file (demo)', c_out_inside_a_file, r'run cannot be written: .*afile is a file, not a folder'),
    Case('evaluate --out is a folder', c_evaluate_out_is_a_folder, r'--out .*folder is a folder; give a file name'),
    Case('JSON file as checkpoint', c_json_as_checkpoint,
         r'metrics\.json is a JSON file, not a checkpoint: pass best\.pt or last\.pt of a run folder'),
    Case('CSV file as checkpoint (field)', c_csv_as_checkpoint, r'florida\.csv is a CSV \(text table\) file, not a checkpoint'),
    Case('YAML file as checkpoint', c_yaml_as_checkpoint, r'neon_florida_multitaxa\.yaml is a YAML file, not a checkpoint'),
    Case('run folder as checkpoint', c_run_folder_as_checkpoint, r'out is a run folder, not a checkpoint: pass .*out/best\.pt',
         trained=True),
    Case('run folder in use (locked)', c_run_folder_locked,
         r'run folder .*busy is in use: another run \(PID \d+\) is writing there and holds .*busy/\.lock'),
    Case('demo into a folder holding a run', c_demo_into_existing_run,
         r'kept already holds a training run \(last\.pt\)\. Continue it with --resume .*--overwrite', trained=True),
    Case('resume a finished run', c_resume_finished_run, r'had already finished \(step 5 of 5.*nothing to resume',
         code=0, trained=True, process=True),
    Case('run into a folder holding a run', c_run_into_existing_report,
         r'rep already holds a run \(train\.ipynb\)\. Continue it with --resume, .*--overwrite'),
    Case('run -p data relative path missing', c_run_relative_data_missing,
         r'-p data no/such\.csv: .*no/such\.csv does not exist\. Relative paths are read from the folder'),
    Case('run -p max_steps 0', c_run_max_steps_zero, r'max_steps.*must be at least 1.*got 0'),
]
CASES += CASES_RUNS


def run_cli(args, via, capsys):
    "(exit code, stdout, stderr) of `deepearth ARGS`, in this process or as `python -m deepearth.cli`."
    args = [str(a) for a in args]
    if via == 'subprocess':
        r = subprocess.run([sys.executable, '-m', 'deepearth.cli', *args], capture_output=True, text=True, cwd=ROOT,
                           timeout=600)
        return r.returncode, r.stdout, r.stderr
    try: code = main(args)
    except SystemExit as e: code = e.code  # argparse's own errors
    out, err = capsys.readouterr()
    return code, out, err


def params():
    for case in CASES:
        for via in ('main', 'subprocess') if case.process else ('main',):
            slow = case.trained or via == 'subprocess'
            yield pytest.param(case, via, id=f'{case.name}-{via}', marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize('case,via', list(params()))
def test_case(case, via, tmp_path, rows, florida, capsys, request):
    ctx = Ctx(rows, florida, request.getfixturevalue('trained') if case.trained else None)
    cli_args, api = case.build(tmp_path, ctx)
    assert cli_args is not None or api is not None
    if cli_args is not None:
        code, out, err = run_cli(cli_args, via, capsys)
        assert 'Traceback' not in err, err
        assert code == case.code, (code, out, err)
        if case.code == 2:
            command = cli_args[0]
            assert re.search(rf'^deepearth {command}: error: ', err, re.M), err
            assert '\n\n' not in err.strip(), err  # one paragraph
            assert re.search(case.expect, err, re.S), err
        else:
            assert re.search(case.expect, out, re.S), out
    if api is not None and via == 'main':  # the API once per case
        if case.code == 2:
            with pytest.raises(DeepEarthInputError) as e: api()
            assert re.search(case.api_expect or case.expect, str(e.value), re.S), str(e.value)
        else:
            assert re.search(case.api_expect or case.expect, api(), re.S)


def test_the_table_covers_every_case():
    "No two cases share a name; the table is the one place these inputs are tested."
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 40


@pytest.mark.slow
def test_internal_errors_keep_their_traceback(trained, tmp_path):
    "A checkpoint that passes the format check but whose config is not JSON is a bug or tampering: not swallowed."
    ckpt, data = trained
    state = torch.load(ckpt, weights_only=True)
    state['config'] = state['config'][:40]  # cut JSON
    torch.save(state, tmp_path / 'cut.pt')
    with pytest.raises(json.JSONDecodeError) as e: load_checkpoint(tmp_path / 'cut.pt')
    assert not isinstance(e.value, DeepEarthInputError)
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'evaluate', str(tmp_path / 'cut.pt'), str(data)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert 'Traceback (most recent call last)' in r.stderr and 'JSONDecodeError' in r.stderr, r.stderr
    assert 'deepearth evaluate: error:' not in r.stderr
