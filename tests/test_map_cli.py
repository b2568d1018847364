"""`deepearth map` on a real checkpoint: a tiny model trained by `deepearth train` for 30 steps on the bundled NEON
Florida table. The CLI refuses a bad modality, class, time, month, basemap or distance with exit 2 and the valid choices;
`deepearth map` draws the same map as the one `deepearth train` left in the run folder; and in headless Chromium (network
cut off) the map draws the observations, fades the cells far from them, and changes with the chosen class.
Screenshots go to tests/artifacts/."""
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from browser import ARTIFACTS, ROOT, check_page
from deepearth.cli import main
from deepearth.fields import map_info
from deepearth.maps import external_urls

# training (~1 minute) and a Chromium start per page: slow, so `make test-fast` skips them
pytestmark = pytest.mark.slow

DATA = ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'
LAND = np.array([0xf2, 0xf0, 0xeb])  # the Natural Earth land fill of deepearth.maps
RED = np.array([0xe4, 0x1a, 0x1c])  # the marker of a place where the chosen class was observed


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "The folder of a `deepearth train` run (tiny preset, 30 steps) with its report: best.pt, map.html, ..."
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp('maps') / 'run'
    rc = main(['train', str(DATA), '--preset', 'tiny', '--max-steps', '30', '--max-test-rows', '50', '--out', str(out),
               '--no-progress'])
    assert rc == 0 and (out / 'map.html').is_file()
    return out


def deepearth_map(capsys, *args):
    "Exit code, stdout and stderr of `deepearth map ARGS` (argparse's own errors exit 2 as well)."
    try: rc = main(['map', *map(str, args)])
    except SystemExit as e: rc = e.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize('args, message', [
    (['--modality', 'specis'], "--modality 'specis': the model has no modality of that name. Did you mean 'species'? "
                               "Valid choices: species, taxon_group, land_cover, abundance."),
    (['--class', 'Culex eraticus'], "Did you mean 'Culex erraticus'"),
    (['--modality', 'abundance', '--class', 'Culex erraticus'], "--class applies to a categorical modality; 'abundance' is numerical"),
    (['--time', '2019-13-45'], "The time '2019-13-45' is not a valid date"),
    (['--time', 'next week'], "Cannot read the time 'next week'"),
    (['--month', '13'], '--month must be a month number from 1 (January) to 12; got 13.'),
    (['--month', 'may'], "argument --month: invalid int value: 'may'"),
    (['--time', '2019-05', '--month', '5'], 'argument --month: not allowed with argument --time'),
    (['--tiles', 'stamen'], "--tiles must be none (the offline Natural Earth outline, the default), osm, or an XYZ URL template"),
    (['--max-distance-km', '-3'], '--max-distance-km must be a positive number of km; got -3.0.'),
])
def test_bad_choices_exit_2(run, tmp_path, capsys, args, message):
    "A bad choice exits 2 with one paragraph that names it and the valid choices, before any query, and writes nothing."
    rc, out, err = deepearth_map(capsys, run / 'best.pt', '--out', tmp_path / 'm.html', *args)
    assert rc == 2, (out, err)
    assert message in err, err
    assert 'Traceback' not in err and not (tmp_path / 'm.html').exists()


def test_bad_class_lists_the_most_observed(run, tmp_path, capsys):
    "An unknown class lists the classes, most observed first, and how many there are."
    rc, _, err = deepearth_map(capsys, run / 'best.pt', '--out', tmp_path / 'm.html', '--class', 'Aedes nonexistens')
    assert rc == 2 and 'Valid choices: Anopheles crucians, Culex erraticus,' in err and 'in all).' in err


def test_map_matches_train(run, tmp_path, capsys):
    "`deepearth map CHECKPOINT` (defaults, the training table recorded by the run) draws the map `train` wrote."
    rc, out, err = deepearth_map(capsys, run / 'best.pt', '--out', tmp_path / 'map.html')
    assert rc == 0, err
    a, b = map_info(run / 'map.html'), map_info(tmp_path / 'map.html')
    for k in ('checkpoint', 'out'): a.pop(k, None), b.pop(k, None)
    assert a == b and a['data'] == str(DATA.resolve())
    # the defaults: the first categorical modality, its most observed class, the month with most observations
    assert (a['modality'], a['classes'], a['time']) == ('species', ['Anopheles crucians'], '2016-05'), a
    assert 0 < a['faded_share'] < 1 and a['n_places'] == 137
    img = lambda p: sorted(re.findall(r'data:image/png;base64,[A-Za-z0-9+/=]{200,}', p.read_text()))
    assert img(run / 'map.html') == img(tmp_path / 'map.html')  # the same field and embedding images
    assert f"wrote {tmp_path / 'map.html'}: species: Anopheles crucians in 2016-05" in out
    assert external_urls((tmp_path / 'map.html').read_text()) == []
    assert (tmp_path / 'map.html').stat().st_size < 1_000_000  # 137 place markers, not 61,069 observations


def test_numerical_modality(run, tmp_path, capsys):
    "A numerical modality maps its predicted value with a colour bar in the training column's units."
    rc, out, err = deepearth_map(capsys, run / 'best.pt', '--out', tmp_path / 'a.html', '--modality', 'abundance',
                                 '--month', '7', '--resolution', '40')
    assert rc == 0, err
    info, page = map_info(tmp_path / 'a.html'), (tmp_path / 'a.html').read_text()
    assert (info['kind'], info['variable'], info['classes']) == ('numerical', 'abundance', None)
    assert info['time'].endswith('-07') and 'predicted value' in page and 'mean value:' in page
    assert 'predicted abundance in' in out


def test_no_data_draws_the_field_alone(run, tmp_path, capsys):
    "Without a training table (none given, none recorded) the map has no markers and no fading, and says so."
    shutil.copy(run / 'best.pt', tmp_path / 'best.pt')
    rc, out, err = deepearth_map(capsys, tmp_path / 'best.pt', '--out', tmp_path / 'm.html', '--resolution', '30')
    assert rc == 0, err
    info = map_info(tmp_path / 'm.html')
    assert info['data'] is None and 'max_distance_km' not in info and info['time_how'] == 'the middle of the training period'
    assert 'note: no training data given (--data)' in out


def _draw(capsys, run, path, *args):
    rc, _, err = deepearth_map(capsys, run / 'best.pt', '--out', path, '--data', DATA, '--time', '2019-05',
                               '--resolution', '80', *args)
    assert rc == 0, err
    return path


def _look(path, name):
    """Screenshots of a map with and without its observation layer, and the pixel positions of a point far from the
    data (between the OSBS and DSNY sites) and of the box around OSBS."""
    def actions(page):
        pos = page.evaluate("""() => { const m = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
            const p = (la, lo) => { const q = m.latLngToContainerPoint([la, lo]); return [Math.round(q.x), Math.round(q.y)]; };
            return {far: p(28.9, -81.7), nw: p(29.745, -82.045), se: p(29.655, -81.92)}; }""")
        with_obs = page.screenshot()
        page.locator('.leaflet-control-layers-overlays input').first.uncheck()
        page.wait_for_timeout(300)
        without_obs = page.screenshot()
        (ARTIFACTS / f'{name}_field.png').write_bytes(without_obs)
        markers = page.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length")
        page.locator('.leaflet-control-layers-overlays input').first.check()
        page.evaluate("""() => window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))]
            .fitBounds([[29.655, -82.045], [29.745, -81.92]], {animate: false})""")
        page.wait_for_timeout(500)
        (ARTIFACTS / f'{name}_osbs.png').write_bytes(page.screenshot())
        page.locator('.leaflet-control-layers-overlays input').first.uncheck()
        page.wait_for_timeout(300)
        return dict(pos=pos, with_obs=with_obs, without_obs=without_obs, markers_left=markers)
    r = check_page(path, None, actions=actions, wait_ms=1500)
    (ARTIFACTS / f'{name}.png').write_bytes(r['result']['with_obs'])
    assert r['console_errors'] == [] and r['failed_requests'] == [], r
    arr = lambda b: np.asarray(Image.open(__import__('io').BytesIO(b)).convert('RGB')).astype(float)
    return r, arr(r['result']['with_obs']), arr(r['result']['without_obs'])


@pytest.mark.browser
def test_map_in_browser(run, tmp_path, capsys):
    "Observations drawn (red where the class was seen, with popups), far cells faded, the class changes the field."
    faded = _draw(capsys, run, tmp_path / 'faded.html', '--class', 'Culex erraticus')
    plain = _draw(capsys, run, tmp_path / 'plain.html', '--class', 'Culex erraticus', '--max-distance-km', '1000')
    other = _draw(capsys, run, tmp_path / 'other.html', '--class', 'Amblyomma americanum')
    rf, faded_obs, faded_field = _look(faded, 'map_cli_culex')
    _, plain_obs, plain_field = _look(plain, 'map_cli_unfaded')
    ro, other_obs, other_field = _look(other, 'map_cli_amblyomma')
    assert rf['external_requests'] == []
    # observations: red places with the layer on, none with it off
    red = lambda a: int((np.abs(a - RED).sum(-1) < 40).sum())
    assert red(faded_obs) > red(faded_field) + 200 and red(faded_field) < 120, (red(faded_obs), red(faded_field))  # the legend's dot
    assert rf['result']['markers_left'] == 0
    # faded: far from the data the field is close to the land colour; not faded, it is drawn at full opacity
    (x, y) = rf['result']['pos']['far']
    patch = lambda a: a[y - 10:y + 10, x - 10:x + 10]
    off_land = lambda a: float(np.abs(patch(a) - LAND).sum(-1).mean())
    assert off_land(faded_field) < 0.4 * off_land(plain_field), (off_land(faded_field), off_land(plain_field))
    # near the data (the OSBS box) the faded and unfaded maps agree up to the colour scale; another class redraws it
    (x0, y0), (x1, y1) = rf['result']['pos']['nw'], rf['result']['pos']['se']
    box = lambda a: a[y0:y1, x0:x1]
    assert box(faded_field).shape[0] > 20 and box(faded_field).shape[1] > 20
    diff = float(np.abs(box(faded_field) - box(other_field)).mean())
    assert diff > 5, f'the field around OSBS should change with the class (mean difference {diff:.1f})'
    assert red(other_obs) != red(faded_obs)  # other places are red
    assert 'Culex erraticus observed' in faded.read_text() and 'Amblyomma americanum observed' in other.read_text()


@pytest.mark.browser
def test_popup(run, tmp_path, capsys):
    "A place's popup counts its observations and the chosen class there."
    path = _draw(capsys, run, tmp_path / 'popup.html', '--class', 'Culex erraticus', '--resolution', '40')

    def actions(page):
        return page.evaluate("""() => { const m = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
            let marker = null; m.eachLayer(l => { if (l instanceof L.CircleMarker && l.options.fillColor === '#e41a1c') marker = l; });
            marker.openPopup(); return document.querySelector('.leaflet-popup-content').innerText; }""")
    r = check_page(path, ARTIFACTS / 'map_cli_popup.png', actions=actions)
    text = r['result']
    assert re.search(r'[\d,]+ observations? here', text) and 'Culex erraticus: ' in text and 'most observed:' in text, text
    assert 'probability of species here:' in text


@pytest.mark.browser
def test_osm_tiles_need_the_network(run, tmp_path, capsys):
    "--tiles osm adds an OpenStreetMap basemap, which the page fetches from the network (blocked here); the default fetches nothing."
    path = _draw(capsys, run, tmp_path / 'osm.html', '--tiles', 'osm', '--resolution', '40')
    assert 'https://tile.openstreetmap.org/{z}/{x}/{y}.png' in path.read_text()
    r = check_page(path, ARTIFACTS / 'map_cli_osm_offline.png')
    assert any('tile.openstreetmap.org' in u for u in r['external_requests']), r['external_requests']
    assert r['console_errors'] == [] or all('tile.openstreetmap.org' in e or 'ERR_' in e for e in r['console_errors'])
