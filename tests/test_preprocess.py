"Edge cases of deepearth.preprocess on the real NEON Florida multi-taxa table (84,829 rows, 9 taxon groups)."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

from deepearth.config import DeepEarthInputError, MaskingConfig, preset
from deepearth.data import load_observations
from deepearth.preprocess import MISSING_ID, UNKNOWN_ID, DatasetStatistics, mask_batch

DATA = Path(__file__).resolve().parents[1] / 'data' / 'neon' / 'neon_florida_multitaxa.csv.gz'
MODS = dict(species=dict(input_type='categorical', column_name='taxon_name'),
            habitat=dict(input_type='categorical', column_name='nlcdClass'),
            native=dict(input_type='categorical', column_name='nativeStatusCode'),
            plot=dict(input_type='categorical', column_name='plot_no'),
            abundance=dict(input_type='numerical', column_names=['value'], log_transform=True))


@pytest.fixture(scope='module')
def florida():
    "The loaded table, plus the plot number as an integer column with gaps (read as float by pandas)."
    cfg = preset('tiny', columns=dict(timestamp='observation_datetime', altitude='elevation'),
                 modality_configs={k: v for k, v in MODS.items() if k != 'plot'}, ecological_columns=['taxon_group'])
    df = load_observations(DATA, cfg).df
    plot = pd.read_csv(DATA, usecols=['plotID']).plotID.str.split('_').str[-1]
    df['plot_no'] = pd.to_numeric(plot, errors='coerce').to_numpy()[df.source_row - 1]
    return df


@pytest.fixture(scope='module')
def cfg(): return preset('tiny', modality_configs=MODS)


def test_missing_categoricals_are_missing_ids_and_never_targets(florida, cfg):
    s = DatasetStatistics.fit(florida, cfg)
    tb = s.transform(florida)
    for name, col in (('habitat', 'nlcdClass'), ('native', 'nativeStatusCode'), ('plot', 'plot_no')):
        miss = florida[col].isna().to_numpy()
        assert miss.sum() > 1000
        assert ((tb[f'cat/{name}'] == MISSING_ID).numpy() == miss).all()
        assert s.class_counts[name][MISSING_ID] == miss.sum()
    m = mask_batch(tb, MaskingConfig(modality_mask_prob=0.5), torch.Generator().manual_seed(0))
    for name in ('habitat', 'native', 'plot'):
        miss = tb[f'cat/{name}'] == MISSING_ID
        assert (m[name] & miss).any() and not (m.target[name] & miss).any()


def test_integer_codes_with_gaps_read_as_integers(florida, cfg):
    s = DatasetStatistics.fit(florida, cfg)
    assert all('.' not in v for v in s.vocabularies['plot'][2:])
    ints = florida.plot_no.dropna().astype('int64').head(50)  # the same codes without gaps: same ids
    assert (s.encode_category('plot', ints) == s.encode_category('plot', florida.plot_no.dropna().head(50))).all()


def test_fit_on_one_taxon_group_sees_only_it(florida, cfg):
    birds = np.flatnonzero((florida.taxon_group == 'bird').to_numpy())
    s = DatasetStatistics.fit(florida, cfg, rows=birds)
    assert set(s.vocabularies['species'][2:]) == set(florida.taxon_name.iloc[birds])
    ids = s.transform(florida)['cat/species'].numpy()
    assert (ids[(florida.taxon_group != 'bird').to_numpy()] == UNKNOWN_ID).all()


def test_single_place_and_time_and_all_missing_column(florida, cfg):
    one = florida.iloc[[0] * 20].reset_index(drop=True).assign(value=np.nan)
    s = DatasetStatistics.fit(one, cfg)
    assert s.xyz_scale == 1.0 and s.time_span_s == 86400.0
    assert s.numeric['abundance']['std'] == [1.0] and s.numeric['abundance']['count'] == [0]
    assert len(s.notes) == 3
    s2 = DatasetStatistics.from_dict(json.loads(json.dumps(s.to_dict(), allow_nan=False)))
    tb = s2.transform(florida.iloc[:100])
    assert torch.isfinite(tb['xyz']).all() and torch.isfinite(tb['num/abundance']).all()


def test_transform_names_missing_columns_and_bad_values(florida, cfg):
    s = DatasetStatistics.fit(florida.iloc[:1000], cfg)
    with pytest.raises(DeepEarthInputError, match="no column 'nlcdClass'"):
        s.transform(florida.drop(columns='nlcdClass'))
    bad = florida.iloc[:50].copy(); bad.loc[7, 'time'] = np.nan
    with pytest.raises(DeepEarthInputError, match=r'1 row \(source rows 8\) without a usable time'):
        s.transform(bad)


def test_masks_on_an_empty_batch_and_generator_device(florida, cfg):
    tb = DatasetStatistics.fit(florida, cfg).transform(florida)
    empty = mask_batch(tb.index(torch.tensor([], dtype=torch.long)), cfg.masking_config, torch.Generator().manual_seed(0))
    assert all(v.shape[0] == 0 for v in empty.values())
    a = mask_batch(tb, cfg.masking_config, torch.Generator().manual_seed(3))
    b = mask_batch(tb.to('cpu'), cfg.masking_config, torch.Generator('cpu').manual_seed(3))
    assert all(torch.equal(a[k], b[k]) for k in a)
