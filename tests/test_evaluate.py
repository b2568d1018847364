"Edge cases of `deepearth.evaluate` on small synthetic tables (fast): decoding round trips, fallbacks, odd configs."
import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from deepearth.config import DeepEarthConfig, DeepEarthInputError
from deepearth.evaluate import (METHODS, baselines, evaluate, evaluation_contexts, metrics_markdown, metrics_table,
                                targets_of)
from deepearth.geo import geodetic_to_ecef
from deepearth.preprocess import DatasetStatistics, N_SPECIAL, UNKNOWN_ID
from deepearth.splits import make_split


def _table(n=1200, seed=0, local=False, n_species=12, multi=False):
    "Canonical columns of `load_observations`: species by site, a count, optional two-column weather."
    r = np.random.default_rng(seed)
    site = r.integers(0, 6, n)
    lat, lon = 28 + site * 0.3 + r.normal(0, 0.01, n), -82 + site * 0.2 + r.normal(0, 0.01, n)
    alt = r.uniform(0, 50, n)
    t = r.uniform(1.45e9, 1.65e9, n)
    df = pd.DataFrame({'time': t, 'time_width': 0.0, 'source_row': np.arange(1, n + 1)})
    if local:
        df['x'], df['y'], df['z'] = site * 3000 + r.normal(0, 50, n), site * 1000 + r.normal(0, 50, n), alt
        df['latitude'] = df['longitude'] = df['altitude'] = np.nan
    else:
        xyz = geodetic_to_ecef(lat, lon, alt)
        df['latitude'], df['longitude'], df['altitude'] = lat, lon, alt
        df['x'], df['y'], df['z'] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    sp = (site * 2 + r.integers(0, 3, n)) % n_species
    df['species'] = pd.array([f'sp{i}' for i in sp], dtype=object)
    df.loc[r.random(n) < 0.05, 'species'] = None
    df['count'] = np.where(r.random(n) < 0.1, np.nan, np.round(np.exp(r.normal(site * 0.3, 1, n))))
    df['event'] = site * 100_000 + (t // 86400).astype(int)  # one site on one UTC day
    if multi:
        df['temp'] = 20 + site + r.normal(0, 1, n)
        df['hum'] = np.where(r.random(n) < 0.2, np.nan, 60 - site * 2 + r.normal(0, 3, n))
    return df


def _config(local=False, multi=False, categorical=True, **split):
    mods = {'abundance': {'input_type': 'numerical', 'column_names': ['count'], 'log_transform': True}}
    if categorical: mods = {'species': {'column_name': 'species'}, **mods}
    if multi: mods['weather'] = {'input_type': 'numerical', 'column_names': ['temp', 'hum']}
    return DeepEarthConfig.from_dict({'preset': 'tiny', 'coordinate_system': 'local_xyz' if local else 'geographic',
                                      'modality_configs': mods, 'ecological_columns': ['event'],
                                      'split': {'kind': 'random', 'seed': 0, **split}})


def _setup(**kw):
    local, multi = kw.pop('local', False), kw.pop('multi', False)
    cat = kw.pop('categorical', True)
    df, cfg = _table(local=local, multi=multi, **kw), _config(local=local, multi=multi, categorical=cat)
    split = make_split(df, cfg.split)
    return df, cfg, split, DatasetStatistics.fit(df, cfg, rows=split['train'])


class Oracle(torch.nn.Module):
    "Reads the seed's own (hidden) value from the batch: a perfect model, to test decoding, not learning."
    def __init__(self, stats):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.n_ids = {k: len(v) for k, v in stats.vocabularies.items()}

    def forward(self, batch, hidden=None):
        rec = {'location': batch['xyz'], 'time': batch['t']}
        for k, v in batch.items():
            kind, _, name = k.partition('/')
            if kind == 'cat': rec[name] = F.one_hot(v, self.n_ids[name]).float() * 10
            elif kind == 'num': rec[name] = v
        return rec, None


@pytest.mark.parametrize('local', [False, True])
def test_oracle_decodes_to_user_units(local):
    df, cfg, split, stats = _setup(local=local, multi=True)
    m = evaluate(Oracle(stats), df, split, stats, cfg, gbm=False)
    T = m['targets']
    assert set(T) == {'species', 'abundance', 'weather', 'location', 'time'}
    unknown = T['species']['model']['n_unknown'] / T['species']['n']
    assert T['species']['model']['top1'] == pytest.approx(1 - unknown)  # every known class hit, every unknown missed
    assert T['abundance']['model']['mae'] < 1e-3 and T['abundance']['model']['r2'] > 0.999999
    for c in ('temp', 'hum'): assert T['weather']['model']['columns'][c]['mae'] < 1e-4
    assert T['weather']['model']['columns']['hum']['n'] < T['weather']['n']  # missing humidity is not scored
    assert T['location']['model']['median_km'] < 1e-3
    assert T['time']['model']['median_days'] < 1e-2
    json.dumps(m, allow_nan=False)
    tab = metrics_table(m)
    assert ('weather[hum]', 'rmse') in tab.index and ('weather', 'r2') in tab.index
    assert tab['model_beats_prior'].all()


def test_unknown_classes_and_missing_truths():
    df, cfg, split, stats = _setup()
    test = split['test']
    df.loc[test[:7], 'species'] = 'never_seen_in_training'
    df.loc[test[7:12], 'species'] = None
    b = baselines(df, split, stats, cfg, gbm=False)
    sp = b['targets']['species']
    n_missing = int(df['species'].iloc[test].isna().sum())
    assert sp['n'] == len(test) - n_missing
    assert sp['prior']['n_unknown'] == 7
    assert b['targets']['abundance']['n'] == int(df['count'].iloc[test].notna().sum())


def test_few_classes_and_no_validation_part():
    df, cfg, split, stats = _setup(n_species=3)
    cfg.split.val_fraction = 0
    split = make_split(df, cfg.split)
    stats = DatasetStatistics.fit(df, cfg, rows=split['train'])
    b = baselines(df, split, stats, cfg)
    sp = b['targets']['species']
    assert sp['prior']['top5'] == pytest.approx(1 - sp['prior']['n_unknown'] / sp['n'])  # all 3 classes named
    assert sp['knn']['settings']['days_per_km'] == 30.0 and sp['knn']['settings']['tuned_on'] is None
    assert 'top1' in sp['gbm']  # 3 classes: the tree classifier runs


def test_no_categorical_falls_back_to_global_neighbours():
    df, cfg, split, stats = _setup(categorical=False)
    b = baselines(df, split, stats, cfg, gbm=False, days_per_km=10.0)
    assert b['targets']['location']['knn']['settings']['group_by'] is None
    assert b['targets']['location']['knn']['median_km'] < b['targets']['location']['prior']['median_km']


def test_fixed_and_per_target_scales():
    df, cfg, split, stats = _setup()
    b = baselines(df, split, stats, cfg, gbm=False, days_per_km={'species': 5.0})
    assert b['targets']['species']['knn']['settings']['days_per_km'] == 5.0
    assert b['targets']['abundance']['knn']['settings']['days_per_km'] == 30.0


def test_contexts_use_training_rows_only_for_every_part():
    df, cfg, split, stats = _setup()
    train = np.zeros(len(df), bool); train[split['train']] = True
    for part in ('val', 'test'):
        for tg in targets_of(cfg):
            idx, pad, how = evaluation_contexts(df, cfg, split, split[part], tg)
            assert train[idx[:, 1:][~pad[:, 1:]]].all()
    # 'event' is one site on one day: within 1 km? no (sites span km); within one day: yes -> dropped for time only
    tg_time = targets_of(cfg, ['time'])[0]
    assert evaluation_contexts(df, cfg, split, split['test'], tg_time)[2]['ecological_columns'] == []


def test_markdown_and_errors():
    df, cfg, split, stats = _setup()
    b = baselines(df, split, stats, cfg, gbm=False)
    md = metrics_markdown(b)
    assert md.splitlines()[0] == '| target | metric | prior | group prior | kNN | group kNN | GBM |'
    table = [l for l in md.splitlines() if l.startswith('|')]
    assert all(line.count('|') == 8 for line in table)  # 7 columns
    sp = b['targets']['species']
    assert isinstance(sp['gbm']['skipped'], str) and isinstance(sp['group_prior']['skipped'], str)  # nothing to group by
    assert b['targets']['abundance']['group_prior']['settings']['group_by'] == 'species'  # the only other categorical
    assert '| species | top1 | ' in md and '| skipped | ' in md
    assert 'Skipped: GBM on species, abundance, location, time: turned off (gbm=False).' in md.splitlines()
    with pytest.raises(DeepEarthInputError, match='Unknown evaluation target'):
        baselines(df, split, stats, cfg, targets=['nope'])
    with pytest.raises(DeepEarthInputError, match='no column'):
        baselines(df.drop(columns='time'), split, stats, cfg)
    empty = {**split, 'val': np.array([], np.int64)}
    with pytest.raises(DeepEarthInputError, match='is empty'):
        baselines(df, empty, stats, cfg, part='val')


def test_gbm_without_altitude_on_real_archive():
    "The ISU birds archive has no altitude at all: the trees drop the empty feature instead of failing (was a crash)."
    from deepearth.data import load_observations
    obs = load_observations('data/gbif/isu_birds_dwca', 'data/gbif/isu_birds_dwca.yaml')
    assert obs.df['altitude'].isna().all()
    split = make_split(obs.df, obs.config.split)
    stats = DatasetStatistics.fit(obs.df, obs.config, rows=split['train'])
    res = baselines(obs.df, split, stats, obs.config, targets=['location', 'time'], max_rows=200, gbm=True)
    for name, metric in (('location', 'median_km'), ('time', 'median_days')):
        gbm = res['targets'][name]['gbm']
        assert gbm['n'] == 200 and np.isfinite(gbm[metric]), gbm
        assert gbm[metric] < res['targets'][name]['prior'][metric]  # the trees learn something without altitude


def test_group_baselines_and_top_class_trees_on_florida():
    "Real data: the prior within the taxon group beats the plain prior on species; the trees run on 1,000+ species."
    from deepearth.data import load_observations
    obs = load_observations('data/neon/neon_florida_multitaxa.csv.gz', 'data/neon/neon_florida_multitaxa.yaml')
    split = make_split(obs.df, obs.config.split)
    stats = DatasetStatistics.fit(obs.df, obs.config, rows=split['train'])
    kw = dict(max_rows=1000, targets=['species'], days_per_km=30.0, gbm_max_train=5000)
    b = baselines(obs, split, stats, obs.config, gbm_top_classes=20, **kw)
    sp = b['targets']['species']
    assert sp['group_prior']['top5'] > sp['prior']['top5'] + 0.1 and sp['group_prior']['top1'] > sp['prior']['top1']
    assert sp['group_prior']['settings']['group_by'] in ('taxon_group', 'land_cover', 'taxon_group+land_cover')
    assert set(sp['group_prior']['settings']['sweep']) == {'taxon_group', 'land_cover', 'taxon_group+land_cover'}
    assert sp['group_knn']['top5'] > sp['prior']['top5']
    assert 0 <= sp['gbm']['top1'] <= sp['gbm']['top5'] <= 1 and sp['gbm']['top5'] > sp['prior']['top5']
    assert sp['gbm']['settings']['top_classes'] == 20 and sp['gbm']['settings']['of_classes'] > 1000
    skipped = baselines(obs, split, stats, obs.config, gbm_top_classes=None, group=False, **kw)['targets']['species']
    assert 'classes > gbm_max_classes=50' in skipped['gbm']['skipped']
    assert skipped['group_knn'] == {'skipped': 'turned off (group=False)'}
    json.dumps(b, allow_nan=False)


@pytest.mark.slow
def test_linear_probe_on_a_trained_model(tmp_path):
    "A tiny model trained a few dozen steps on real data: the probe reads embeddings and sin/cos features of the same rows."
    from deepearth.data import load_observations
    from deepearth.evaluate import linear_probe
    from deepearth.train import Trainer, prepare
    from test_train import florida_subset
    torch.set_num_threads(1)
    path = florida_subset(tmp_path, n=2000, seed=0)
    obs = load_observations(path, path.with_suffix('.yaml'))
    cfg = obs.config.with_preset('tiny')
    cfg.batch_size = 32
    prep = prepare(obs, cfg)
    tr = Trainer(cfg, prep, None, device='cpu', progress=False, max_steps=30, max_eval_contexts=128)
    tr.fit(test=False)
    raw = pd.read_csv(path, usecols=['nativeStatusCode'])
    status = raw['nativeStatusCode'].to_numpy()[obs.df['source_row'].to_numpy() - 1]
    p = linear_probe(tr.model, obs, prep.split, prep.stats, cfg, 'nativeStatusCode', values=status, seed=0)
    assert (p['column'], p['kind']) == ('nativeStatusCode', 'categorical')
    assert p['n_train'] > p['n_test'] > 0 and p['embedding_dim'] > 0
    for k in ('embedding', 'sincos', 'prior'): assert 0 <= p[k]['top1'] <= 1 and p[k]['n'] == p['n_test']
    assert p['embedding']['settings']['tuned_on'] == 'val'
    with pytest.raises(DeepEarthInputError, match='input of the model'):
        linear_probe(tr.model, obs, prep.split, prep.stats, cfg, 'taxon_name')
    json.dumps(p, allow_nan=False)
