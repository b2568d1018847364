"""The pages DeepEarth writes, opened in headless Chromium with the network cut off: they must render (many colours
in a screenshot), log no console error and request nothing from the network. Screenshots go to tests/artifacts/."""
import json

import pandas as pd
import pytest
import folium

from browser import ARTIFACTS, ROOT, check_page
from deepearth.maps import field_map, observation_field, tile_layer_map, write_tiles

# each test takes 3-6 s (a Chromium start each), the file ~25 s: slow, so `make test-fast` skips them
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope='module')
def field():
    "The kernel field of the three most trapped mosquitoes around OSBS (NEON, Florida) in three periods, and the traps."
    raw = pd.read_csv(ROOT / 'data/neon/neon_florida_multitaxa.csv.gz')
    mos = raw[(raw.taxon_group == 'mosquito') & (raw.latitude > 29)]
    when = pd.to_datetime(mos.observation_datetime, format='mixed', utc=True)
    obs = pd.DataFrame(dict(latitude=mos.latitude.to_numpy(), longitude=mos.longitude.to_numpy(),
                            time=(when - pd.Timestamp('1970-01-01', tz='UTC')).dt.total_seconds().to_numpy(),
                            species=mos.taxon_name.to_numpy(), abundance=mos.value.to_numpy()))
    ds = observation_field(obs.latitude, obs.longitude, obs.species, obs.time, classes=3,
                           time_edges=['2014-01-01', '2017-01-01', '2020-01-01', '2024-01-01'],
                           bounds=dict(min_lat=29.655, max_lat=29.745, min_lon=-82.045, max_lon=-81.92),
                           size=300, bandwidth_m=400)
    return ds, obs


def _assert_clean(r, min_colours=50):
    "No console error, nothing fetched from the network or failed, and a field drawn in the middle of the page."
    assert r['console_errors'] == [], r['console_errors']
    assert r['external_requests'] == [], r['external_requests']
    assert r['failed_requests'] == [], r['failed_requests']
    assert r['n_colours_centre'] > min_colours, \
        f"screenshot {r['screenshot']} has only {r['n_colours_centre']} colours in its central half"


def test_harness_flags_a_cdn_page(tmp_path):
    "folium's default page fetches Leaflet from CDNs: the harness blocks and records it, and the page stays blank."
    folium.Map(tiles=None).save(tmp_path / 'cdn.html')
    r = check_page(tmp_path / 'cdn.html', ARTIFACTS / 'folium_default_offline.png')
    assert any('leaflet' in u for u in r['external_requests'])
    assert any('L is not defined' in e for e in r['console_errors'])
    assert r['n_colours'] < 10


def test_field_map_offline(field, tmp_path):
    "A field map with markers renders offline; switching layers changes the image; a marker's popup names its species."
    ds, obs = field
    path = tmp_path / 'frequency.html'
    field_map(ds, 'frequency', observations=obs, label_col='species', value_col='abundance', max_markers=300).save(path)

    def actions(page):
        first = page.locator('img.leaflet-image-layer').first.get_attribute('src')
        page.locator('.leaflet-control-layers-base input').nth(4).check()
        page.wait_for_timeout(300)
        imgs = page.locator('img.leaflet-image-layer')
        after = [imgs.nth(i).get_attribute('src') for i in range(imgs.count())]
        page.screenshot(path=ARTIFACTS / 'field_map_layer5.png')
        page.locator('path.leaflet-interactive[fill="#e41a1c"]').first.click(force=True)  # a Culex erraticus record
        page.wait_for_timeout(400)
        popup = page.locator('.leaflet-popup-content').inner_text()
        page.screenshot(path=ARTIFACTS / 'field_map_popup.png')
        page.locator('.leaflet-popup-close-button').click()
        page.locator('.leaflet-control-layers-base input').nth(0).check()
        page.wait_for_timeout(400)
        return dict(first=first, after=after, popup=popup, n_markers=page.locator('path.leaflet-interactive').count())

    r = check_page(path, ARTIFACTS / 'field_map.png', actions=actions)
    _assert_clean(r)
    res = r['result']
    assert len(res['after']) == 1 and res['after'][0] != res['first']  # one slice shown at a time, a different one
    assert res['n_markers'] == 300
    lines = res['popup'].split('\n')
    assert lines[0] == 'Culex erraticus' and lines[1][:2] == '20' and lines[2].startswith('abundance: ')
    value = lines[3].split(': ')[-1]  # the field at the trap, for this species and the nearest period
    assert lines[3].startswith('share of observations here in 20') and 0 <= float(value) <= 1, lines


def test_rgb_map_offline(field, tmp_path):
    "An RGB variable (three species' shares as red, green, blue) renders offline with its channel legend."
    ds, _ = field
    path = tmp_path / 'rgb.html'
    field_map(ds, 'frequency_rgb').save(path)
    r = check_page(path, ARTIFACTS / 'field_map_rgb.png',
                   actions=lambda page: page.locator('.deepearth-legend').inner_text())
    _assert_clean(r)
    assert 'Culex erraticus' in r['result']


def test_tile_layer_map_offline(field, tmp_path):
    "A tile pyramid viewed from its folder loads its PNG tiles from disk (relative URLs) and nothing else."
    ds, _ = field
    tiles = tmp_path / 'tiles'
    mf = write_tiles(ds, 'density', tiles, zoom=(10, 13), sel={'class': ['Culex erraticus']}, fade_below=40,
                     resampling='bilinear', progress=False)
    tile_layer_map(tiles).save(tiles / 'index.html')
    def actions(page):
        return page.evaluate("Array.from(document.querySelectorAll('img.leaflet-tile-loaded')).map(i => i.src)")

    r = check_page(tiles / 'index.html', ARTIFACTS / 'tile_map.png', actions=actions)
    _assert_clean(r)
    loaded = r['result']
    assert loaded and all(u.startswith('file://') and f"/{mf['layers'][0]['path']}/" in u for u in loaded)
    assert json.loads((tiles / 'tiles.json').read_text())['zoom'] == [10, 13]


def test_continental_map_offline(tmp_path):
    "A continental field (NEON breeding birds, 47 sites) over the bundled Natural Earth land and sea renders offline."
    b = pd.read_parquet(ROOT / 'data/neon/neon_birds.parquet',
                        columns=['latitude', 'longitude', 'observation_datetime', 'taxon_name'])
    ds = observation_field(b.latitude, b.longitude, b.taxon_name, b.observation_datetime, classes=3,
                           bandwidth_m=60_000, size=400, bounds=dict(min_lat=15, max_lat=72, min_lon=-170, max_lon=-60))
    field_map(ds, 'frequency', cmap='magma').save(tmp_path / 'continental.html')
    r = check_page(tmp_path / 'continental.html', ARTIFACTS / 'continental_map.png',
                   actions=lambda page: page.locator('.leaflet-pane path').count())
    _assert_clean(r)
    assert r['result'] > 5  # country polygons drawn
