"Property tests of `deepearth.splits.make_split` over many configs, seeds and table shapes (fast, synthetic)."
import warnings

import numpy as np
import pandas as pd
import pytest

from deepearth.config import DeepEarthInputError, SplitConfig
from deepearth.splits import make_split, split_summary


def _table(n, seed, local=False, missing_coords=0, missing_groups=0):
    r = np.random.default_rng(seed)
    n_sites = max(3, n // 20)
    site = r.integers(0, n_sites, n)
    xy = r.uniform(0, 1, (n_sites, 2))[site] + r.normal(0, 0.01, (n, 2))
    df = pd.DataFrame({'time': r.uniform(1.0e9, 1.6e9, n), 'site': site.astype(float)})
    if local: df['x'], df['y'], df['z'] = xy[:, 0] * 1e4, xy[:, 1] * 1e4, 0.
    else: df['latitude'], df['longitude'] = 28 + xy[:, 0], -82 + xy[:, 1]
    cols = ['x', 'y'] if local else ['latitude', 'longitude']
    df.loc[r.choice(n, missing_coords, replace=False), cols] = np.nan
    df.loc[r.choice(n, missing_groups, replace=False), 'site'] = np.nan
    return df


CONFIGS = [dict(kind='random'), dict(kind='random', test_fraction=0.5, val_fraction=0),
           dict(kind='group', column='site'), dict(kind='group', column='site', test_fraction=0.05),
           dict(kind='temporal', holdout_years=3), dict(kind='temporal', holdout_fraction=0.1, val_fraction=0.3),
           dict(kind='spatial', patch_size=0.01, n_patches=4), dict(kind='spatial', patch_size=0.001, n_patches=20)]


@pytest.mark.parametrize('kw', CONFIGS, ids=lambda kw: '-'.join(f'{v}' for v in kw.values()))
@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('local', [False, True])
def test_partition(kw, seed, local):
    df = _table(1500, seed, local=local, missing_coords=15 if kw['kind'] == 'spatial' else 0, missing_groups=7)
    cfg = SplitConfig(seed=seed, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        s = make_split(df, cfg)
        again = make_split(df, SplitConfig(seed=seed, **kw))
    parts = [s['train'], s['val'], s['test']]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(df)))  # disjoint and covering
    assert len(s['train']) and len(s['test'])
    assert all(np.array_equal(s[p], again[p]) for p in s)  # seeded
    summ = split_summary(df, s, column='site')
    assert summ['rows'].sum() == len(df)
    if kw['kind'] == 'group':
        assert summ['groups_shared'].sum() == 0
        assert set(np.flatnonzero(df['site'].isna())) <= set(s['train'])
    if kw['kind'] == 'temporal':
        t = df['time'].to_numpy()
        assert t[s['test']].min() > t[np.concatenate([s['train'], s['val']])].max()
    if kw['kind'] == 'spatial':
        cu, cv = ('x', 'y') if local else ('latitude', 'longitude')
        u, v = df[cu].to_numpy(), df[cv].to_numpy()
        boxes = s.patches[s.patches.part == 'test']
        inside = ((u[:, None] >= boxes[f'{cu}_min'].to_numpy()) & (u[:, None] <= boxes[f'{cu}_max'].to_numpy()) &
                  (v[:, None] >= boxes[f'{cv}_min'].to_numpy()) & (v[:, None] <= boxes[f'{cv}_max'].to_numpy())).any(1)
        assert np.array_equal(np.flatnonzero(inside), s['test'])  # the test rows are exactly those in the test patches
        assert len(s['test']) <= cfg.test_fraction * len(df)
        assert set(np.flatnonzero(np.isnan(u))) <= set(s['train'])


def test_errors():
    df = _table(200, 0)
    with pytest.raises(DeepEarthInputError, match="'plot' is not in the table"):
        make_split(df, SplitConfig('group', column='plot'))
    with pytest.raises(DeepEarthInputError, match='leaves the train part empty'):
        make_split(df, SplitConfig('temporal', holdout_years=50))
    with pytest.raises(DeepEarthInputError, match='at least 2 distinct values'):
        make_split(df.assign(site=1.), SplitConfig('group', column='site'))
    with pytest.raises(DeepEarthInputError, match='needs coordinates'):
        make_split(df.drop(columns=['latitude', 'longitude']), SplitConfig('spatial'))
