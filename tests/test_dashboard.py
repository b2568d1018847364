"""The training dashboard and the field explorer (deepearth.dashboard), on real data only.

The dashboard tests draw the history of a real short run made here by `deepearth.train` (the `tiny` preset on the
bundled NEON Florida table, with a `DashboardCallback` attached, so the live path is exercised by a real trainer):
about half a minute of training on a CPU, hence `slow`. The explorer tests use a field computed from the real NEON
mosquito catches (`deepearth.maps.observation_field`) and need no training: they drive the ipywidgets controls by
setting `.value`, as a user's clicks would, and check what the observers redraw.
"""
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepearth.config import DeepEarthInputError
from deepearth.dashboard import (Dashboard, DashboardCallback, FieldExplorer, dashboard_spec, explorer_observations,
                                 explorer_state, has_figure_widget, load_history, load_metrics, save_dashboard,
                                 spec_figure)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'data' / 'neon'
OSBS = dict(min_lat=29.655, max_lat=29.745, min_lon=-82.045, max_lon=-81.92)


@functools.lru_cache(maxsize=None)
def real_run(steps: int = 24):
    """A real training run folder (history.jsonl, metrics.json, dashboard.html) and the live dashboard that watched it.

    Made once per test session (the browser test imports it too): `tiny` preset, a history row every 4 steps, a
    validation at the end, the test metrics on 150 rows against the prior, kNN and gradient-boosted-tree baselines."""
    from deepearth.data import load_observations
    from deepearth.train import Trainer, prepare
    obs = load_observations(DATA / 'neon_florida_multitaxa.csv.gz', DATA / 'neon_florida_multitaxa.yaml')
    cfg = obs.config.with_preset('tiny')
    cfg.training.log_every_n_steps = 4
    out = Path(tempfile.mkdtemp(prefix='deepearth-dashboard-')) / 'florida-tiny'
    live = Dashboard(widget=False, title='florida-tiny')
    trainer = Trainer(cfg, prepare(obs, cfg), out, device='cpu', max_steps=steps, progress=False, max_eval_contexts=64,
                      test_kwargs=dict(max_rows=150, gbm_max_train=3000), callbacks=[DashboardCallback(live, min_interval_s=0)])  # every row: no wall-clock dependence
    trainer.fit()
    return out, live, trainer


@pytest.fixture(scope='module')
def run():
    return real_run()


# ---------------------------------------------------------------- the dashboard of a real run (slow: it trains)

@pytest.mark.slow
def test_history_of_the_run(run):
    "load_history reads what the trainer wrote: every train row, the validation loss, the test metrics."
    out, live, trainer = run
    h = load_history(out)
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    train = [r for r in rows if r['kind'] == 'train']
    assert h.train['step'].tolist() == [r['step'] for r in train] == [1, 4, 8, 12, 16, 20, 24]
    np.testing.assert_allclose(h.train['loss'], [r['loss'] for r in train])
    assert h.targets == ['location', 'time', 'species', 'taxon_group', 'land_cover', 'abundance']
    assert len(h.eval_loss) == 1 and h.eval_loss['split'].tolist() == ['val']
    assert set(h.evals['method']) >= {'model', 'prior', 'knn'} and set(h.evals['split']) == {'test'}
    assert len(h.layers) >= 1
    # metrics.json gives the same numbers as the test row of the history
    m = load_metrics(out)
    key = ['target', 'method', 'metric']
    both = h.evals.merge(m, on=key, suffixes=('_h', '_m'))
    assert len(both) == len(m) > 0
    np.testing.assert_allclose(both['value_h'], both['value_m'])


@pytest.mark.slow
def test_spec_draws_the_metrics_of_the_run(run):
    "Each target's panel shows the model and every baseline with the values of metrics.json; the table has every metric."
    out, live, trainer = run
    metrics = json.loads((out / 'metrics.json').read_text())
    spec = dashboard_spec(out, out)
    headline = {'location': 'median_km', 'time': 'median_days', 'species': 'top1', 'taxon_group': 'top1',
                'land_cover': 'top1', 'abundance': 'mae_log1p'}
    short = {'model': 'model', 'prior': 'prior', 'knn': 'kNN', 'gbm': 'GBM'}
    bars = {t['panel'].removeprefix('metric/'): dict(zip(t['x'], t['y'])) for t in spec.traces if t['type'] == 'bar'}
    assert set(bars) == set(headline)
    for target, metric in headline.items():
        for meth, res in metrics['targets'][target].items():
            if meth in short and 'skipped' not in res:
                assert bars[target][short[meth]] == pytest.approx(res[metric]), (target, meth)
    table = [t for t in spec.traces if t['type'] == 'table'][0]
    assert len(table['cells']['values'][0]) == 2 + 2 + 2 + 4 + 2 + 2  # top1/5 x3, 4 for abundance, 2 location, 2 time
    fig = spec_figure(spec)
    assert fig.layout.yaxis.type == 'log' and len(fig.data) == len(spec.traces)


@pytest.mark.slow
def test_thinning_keeps_the_last_step(run):
    "With max_points below the number of rows, every curve is thinned and still ends at the run's last step."
    out, live, trainer = run
    spec = dashboard_spec(out, max_points=3, smooth=0.0)
    loss = [t for t in spec.traces if t['panel'] == 'loss' and '(validation)' not in t['name']]
    assert loss and all(len(t['x']) <= 3 and t['x'][-1] == 24 for t in loss)


@pytest.mark.slow
def test_save_dashboard_is_self_contained(run, tmp_path):
    "The page inlines plotly.js, reaches nothing on the network, and is written atomically."
    from deepearth.maps import external_urls
    out, live, trainer = run
    path = save_dashboard(out / 'history.jsonl', out / 'metrics.json', tmp_path / 'report' / 'dashboard.html')
    page = path.read_text()
    assert external_urls(page) == []
    assert 'Plotly.newPlot' in page and 'src="https://cdn.plot.ly' not in page  # plotly.js inline, not from its CDN
    assert 3e6 < path.stat().st_size < 8e6  # plotly.js is about 4.6 MB of it
    assert sorted(p.name for p in path.parent.iterdir()) == ['dashboard.html']


@pytest.mark.slow
def test_callback_fed_by_the_trainer(run):
    "The callback attached to the real trainer saw every row, drew the same dashboard as the files, and saved it."
    out, live, trainer = run
    assert (out / 'dashboard.html').is_file()
    assert live.spec().signature == dashboard_spec(out, out, title='florida-tiny').signature
    h, hf = live.history(), load_history(out)
    pd.testing.assert_frame_equal(h.train.reset_index(drop=True), hf.train.reset_index(drop=True), check_like=True)
    assert live.n_rebuilds < live.n_redraws  # most redraws were data updates
    assert all(s < 5 for s in live.redraw_s)


@pytest.mark.slow
def test_callback_throttles_redraws(run):
    "Step rows 0.1 s apart with min_interval_s=0.5: one redraw in five; evaluations and the end always redraw."
    out, live, trainer = run
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    now = [0.0]
    dash = Dashboard(widget=False)
    cb = DashboardCallback(dash, min_interval_s=0.5, save=False, clock=lambda: now[0])
    for i, r in enumerate(rows):
        now[0] = 0.1 * i
        (cb.on_eval if r['kind'] == 'eval' else cb.on_step)(None, r)
    cb.on_end(None)
    n_train = sum(r['kind'] == 'train' for r in rows)
    n_eval = len(rows) - n_train
    expected_steps = len(range(0, n_train, 5))  # at t = 0, 0.5, 1.0, ...
    assert dash.n_redraws == 1 + expected_steps + n_eval + 1  # + the empty figure and the end
    assert cb.saved is None


@pytest.mark.slow
def test_static_figure_follows_redraws(run, capsys):
    "Without a FigureWidget, a shown dashboard holds its figure in an Output, replaced at each redraw; unshown, none."
    out, live, trainer = run
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    dash = Dashboard(rows[:3], widget=False)
    assert dash._out is None  # nothing is kept for a browser until the dashboard is shown
    dash._ipython_display_()
    capsys.readouterr()  # no kernel here: display() printed the widget's repr
    fig_json = lambda: dash._out.outputs[0]['data']['application/vnd.plotly.v1+json']
    total = lambda: [t for t in fig_json()['data'] if t.get('name') == 'total (weighted)'][0]['x']
    assert len(dash._out.outputs) == 1 and len(total()) == 3
    dash.add(rows[3:]).refresh()
    assert len(dash._out.outputs) == 1 and len(total()) == sum(r['kind'] == 'train' for r in rows)


@pytest.mark.slow
def test_figure_widget_updates_in_place(run):
    "With anywidget, the dashboard is a FigureWidget whose traces get new data in one batch_update (no rebuild)."
    pytest.importorskip('anywidget')
    import plotly.graph_objects as go
    out, live, trainer = run
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    train = [r for r in rows if r['kind'] == 'train']
    dash = Dashboard(train[:3])
    assert has_figure_widget() and isinstance(dash.fig, go.FigureWidget)
    fig, rebuilds = dash.fig, dash.n_rebuilds
    dash.add(train[3:]).refresh()
    assert dash.fig is fig and dash.n_rebuilds == rebuilds  # same widget, data assigned
    total = [t for t in fig.data if t.name == 'total (weighted)'][0]
    assert list(total.x) == [r['step'] for r in train]
    assert dash.widget.children[1].children == (fig,)


# ---------------------------------------------------------------- the field explorer (fast: no training)

@pytest.fixture(scope='module')
def mosquitoes():
    "The real NEON mosquito catches around OSBS and their observation field: 4 species, 3 periods."
    from deepearth.data import load_observations
    from deepearth.maps import observation_field
    obs = load_observations(DATA / 'neon_florida_multitaxa.csv.gz', DATA / 'neon_florida_multitaxa.yaml')
    mos = obs.df[(obs.df['taxon_group'] == 'mosquito') & (obs.df['latitude'] > 29)]
    ds = observation_field(mos.latitude, mos.longitude, mos.taxon_name, mos.time, classes=4, bounds=OSBS, size=120,
                           time_edges=['2014-01-01', '2017-01-01', '2020-01-01', '2024-01-01'], bandwidth_m=400)
    return ds, mos


def test_explorer_state_choices(mosquitoes):
    "Defaults, choice by label, index or date, a colour scale fixed across time, and clear errors."
    ds, mos = mosquitoes
    s = explorer_state(ds)
    assert (s['var'], s['cls'], s['time']) == ('frequency', str(ds['class'].values[0]), 0)
    assert explorer_state(ds, time='2017–2019')['time'] == explorer_state(ds, time=1)['time'] == \
        explorer_state(ds, time='2019-12-31')['time'] == 1
    scales = {(explorer_state(ds, cls='Culex erraticus', time=i)['vmin'], explorer_state(ds, cls='Culex erraticus', time=i)['vmax'])
              for i in range(3)}
    assert len(scales) == 1
    da = ds['frequency'].sel({'class': 'Culex erraticus'})
    assert scales.pop() == pytest.approx((float(da.min()), float(da.max())))
    rgb = explorer_state(ds, 'frequency_rgb')
    assert rgb['cls'] is None and (rgb['vmin'], rgb['vmax']) == (0.0, 1.0) and 'max' not in rgb['summary']
    with pytest.raises(DeepEarthInputError, match="is not a class of 'frequency'"): explorer_state(ds, cls='Aedes aegypti')
    with pytest.raises(DeepEarthInputError, match='outside the field'): explorer_state(ds, time=7)
    with pytest.raises(DeepEarthInputError, match="no read-out 'nope'"): explorer_state(ds, 'nope')


def test_explorer_widget_redraws_on_each_control(mosquitoes):
    "Setting a control's value fires its observer: the state follows and the map is redrawn, once per change."
    ds, mos = mosquitoes
    ex = FieldExplorer(ds, observations=mos, label_col='taxon_name', max_markers=200)
    maps = [ex.html]
    ex.class_control.value = 'Anopheles crucians'
    ex.time_control.value = 2
    maps.append(ex.html)
    ex.var_control.value = 'density'
    ex.var_control.value = 'effort'
    assert ex.n_draws == 5 and len(set(maps + [ex.html])) == 3
    assert ex.state['var'] == 'effort' and ex.class_control.disabled and ex.state['time_label'] == '2020–2023'
    ex.var_control.value = 'frequency'
    assert not ex.class_control.disabled and ex.state['cls'] == 'Anopheles crucians'
    assert 'Anopheles crucians' in ex.summary.value and '2020–2023' in ex.summary.value
    # the markers drawn are the catches of the shown period only
    shown = explorer_observations(ds, ex.state, mos)
    t = pd.to_datetime(shown['time'], unit='s')
    assert len(shown) > 0 and t.min() >= pd.Timestamp('2020-01-01') and t.max() < pd.Timestamp('2024-01-01')
    assert ex.html.startswith('<iframe srcdoc=') and 'leaflet' in ex.html.lower()
    # nothing is sent to the browser until the explorer is shown; then the map widget follows every redraw
    assert ex.map.value == ''
    bundle = ex._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in bundle and bundle['text/plain'].startswith('FieldExplorer(')
    assert ex.map.value == ex.html
    ex.time_control.value = 0
    assert ex.map.value == ex.html and '2014–2016' in ex.summary.value


def test_explorer_over_a_function(mosquitoes):
    "A function source is asked once per (class, time) picked, and a read-out switch does not ask again."
    from deepearth.maps import observation_field
    ds, mos = mosquitoes
    calls = []

    def field_of(cls, when):
        calls.append((cls, when))
        year = pd.Timestamp(when).year
        m = mos[(pd.to_datetime(mos['time'], unit='s').dt.year == year)]
        return observation_field(m.latitude, m.longitude, m.taxon_name, m.time, classes=[cls], bounds=OSBS, size=60,
                                 bandwidth_m=400, time_edges=[f'{year}-01-01', f'{year + 1}-01-01'])

    species = ['Culex erraticus', 'Anopheles crucians']
    ex = FieldExplorer(field_of, classes=species, times=['2016-06-01', '2019-06-01'])
    ex.class_control.value = species[1]
    ex.time_control.value = 1
    ex.class_control.value = species[0]
    ex.var_control.value = 'effort'
    assert calls == [(species[0], '2016-06-01'), (species[1], '2016-06-01'), (species[1], '2019-06-01'),
                     (species[0], '2019-06-01')]
    assert ex.n_draws == 5 and ex.state['time_label'] == '2019'
    with pytest.raises(DeepEarthInputError, match='needs `classes` and `times`'): FieldExplorer(field_of)
    with pytest.raises(DeepEarthInputError, match='not one of the times offered'):
        FieldExplorer(field_of, classes=species, times=['2016-06-01'], time='2030-01-01')
