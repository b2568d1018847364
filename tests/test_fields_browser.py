"""The hvplot pages of `deepearth.fields.save_field_html`, opened in headless Chromium with the network cut off: they
must render a field (many colours), log no console error, request nothing from the network, and their widgets must
switch between the embedded slices. The field comes from a tiny model trained briefly on the bundled NEON Florida data.
Screenshots go to tests/artifacts/."""
import numpy as np
import pytest
import torch

from browser import ARTIFACTS, ROOT, check_page
from deepearth.data import load_observations
from deepearth.fields import query_field, save_field_html
from deepearth.maps import external_urls
from deepearth.model import DeepEarthModel, mask_contexts, masked_losses
from deepearth.preprocess import DatasetStatistics
from deepearth.sampling import ContextSampler, NeighbourIndex, gather_context
from deepearth.splits import make_split

# training (~10 s) and a Chromium start per page: slow, so `make test-fast` skips them
pytestmark = [pytest.mark.slow, pytest.mark.browser]

OSBS = dict(min_lat=29.655, max_lat=29.745, min_lon=-82.045, max_lon=-81.92)


@pytest.fixture(scope='module')
def field():
    "A field around OSBS of a tiny model trained for 100 steps of masked reconstruction on NEON Florida (real data)."
    torch.set_num_threads(1)
    d = ROOT / 'data/neon'
    obs = load_observations(d / 'neon_florida_multitaxa.csv.gz', d / 'neon_florida_multitaxa.yaml')
    cfg = obs.config.with_preset('tiny')
    split = make_split(obs.df, cfg.split)
    train = obs.df.iloc[split['train']]
    stats = DatasetStatistics.fit(train, cfg)
    torch.manual_seed(0)
    model, table = DeepEarthModel(cfg, stats), stats.transform(obs.df)
    nb = NeighbourIndex.build(obs.df, cfg, pool=split['train'], seeds=split['train'], ecological_columns=cfg.ecological_columns)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.training.learning_rate)
    g = torch.Generator().manual_seed(0)
    for _, (idx, pad) in zip(range(100), ContextSampler(len(table), nb, 64, seed=0)):
        pad = pad | (torch.rand(len(pad), 1, generator=g) < 0.25) & (torch.arange(pad.shape[1]) > 0)  # some cells alone
        batch = {**gather_context(table, idx), 'pad': pad}
        hidden, target = mask_contexts(batch, cfg.masking_config, g)
        loss = masked_losses(model(batch, hidden)[0], batch, target, cfg)['loss']
        opt.zero_grad(); loss.backward(); opt.step()
    return query_field(model, stats, cfg, bbox=OSBS, resolution=50, times=['2019-05-01', 'JJA-2019'], classes=3,
                       data=train, progress=False)


def _assert_clean(r, min_colours=50):
    assert r['console_errors'] == [], r['console_errors']
    assert r['external_requests'] == [], r['external_requests']
    assert r['failed_requests'] == [], r['failed_requests']
    assert r['n_colours'] > min_colours, f"screenshot {r['screenshot']} has only {r['n_colours']} colours"


def test_probability_page_offline(field, tmp_path):
    "The probability page renders offline, and choosing another class in its widget draws another image."
    path = save_field_html(field, 'probability', tmp_path / 'probability.html')
    assert external_urls(path.read_text()) == []
    second = str(field['class'].values[1])

    def actions(page):
        canvas = lambda: page.locator('canvas').first.screenshot()
        before = canvas()
        page.screenshot(path=ARTIFACTS / 'fields_probability.png')
        page.locator('select').filter(has=page.locator(f'option[value="{second}"]')).select_option(second)
        page.wait_for_timeout(800)
        return dict(changed=before != canvas(), options=page.locator('option').all_inner_texts())

    r = check_page(path, ARTIFACTS / 'fields_probability_class2.png', actions=actions)
    _assert_clean(r)
    assert second in r['result']['options'] and '2019-05-01 12:00' in r['result']['options']
    assert r['result']['changed'], 'selecting another class must redraw the field'


def test_rgb_page_offline(field, tmp_path):
    "The embedding-as-RGB page renders offline with many colours."
    path = save_field_html(field, 'embedding_rgb', tmp_path / 'rgb.html')
    r = check_page(path, ARTIFACTS / 'fields_embedding_rgb.png')
    _assert_clean(r, min_colours=200)
