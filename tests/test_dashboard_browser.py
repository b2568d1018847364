"""The dashboard.html of a real run and the field explorer's map, opened in headless Chromium with the network cut off:
they must draw (many colours), log no console error and request nothing. Screenshots go to tests/artifacts/."""
import pytest

from browser import ARTIFACTS, check_page
from deepearth.dashboard import FieldExplorer, save_dashboard
from test_dashboard import OSBS, mosquitoes, real_run  # noqa: F401  (the fixture and the shared real run)

pytestmark = [pytest.mark.slow, pytest.mark.browser]  # a training run and a Chromium start per test


def _assert_clean(r, min_colours=50):
    "No console error, nothing fetched from the network or failed, and a drawing in the middle of the page."
    assert r['console_errors'] == [], r['console_errors']
    assert r['external_requests'] == [], r['external_requests']
    assert r['failed_requests'] == [], r['failed_requests']
    assert r['n_colours'] > min_colours and r['n_colours_centre'] > min_colours, \
        f"screenshot {r['screenshot']} has only {r['n_colours']} colours ({r['n_colours_centre']} in its central half)"


def test_dashboard_html_offline(tmp_path):
    "The saved dashboard renders offline: every panel drawn, the legend toggles a curve, the table shows every metric."
    out, live, trainer = real_run()
    path = save_dashboard(out / 'history.jsonl', out / 'metrics.json', tmp_path / 'dashboard.html')

    def actions(page):
        page.screenshot(path=ARTIFACTS / 'dashboard.png')  # what a reader sees first
        page.screenshot(path=ARTIFACTS / 'dashboard_full.png', full_page=True)
        n_plots = page.locator('.js-plotly-plot .subplot').count()
        n_bars = page.locator('.js-plotly-plot .barlayer .point').count()
        n_rows = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                               ".find(t => t.type === 'table').cells.values[0].length")
        page.locator('.legend .traces', has_text='species').first.locator('.legendtoggle').click(force=True)
        page.wait_for_timeout(800)  # plotly waits for a possible double click before hiding the curve
        hidden = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                               ".filter(t => t.name === 'species').map(t => t.visible)")
        return dict(n_plots=n_plots, n_bars=n_bars, n_rows=n_rows, hidden=hidden)

    r = check_page(path, ARTIFACTS / 'dashboard_species_hidden.png', width=1400, height=900, actions=actions)
    _assert_clean(r)
    assert r['result']['n_plots'] >= 1 + 3 + 2 + 6  # loss; lr, throughput, grad norm; expert load x2; 6 targets
    assert r['result']['n_bars'] >= 6 * 3  # model, prior and kNN (and GBM where fitted) for each target
    assert r['result']['n_rows'] == 14
    assert r['result']['hidden'] == ['legendonly']


def test_explorer_map_offline(mosquitoes, tmp_path):
    "The explorer's map (an iframe with the offline field_map page) renders in a page with no network."
    ds, mos = mosquitoes
    ex = FieldExplorer(ds, observations=mos, label_col='taxon_name', cls='Culex erraticus', time=1, max_markers=300,
                       height=640)
    page = tmp_path / 'explorer.html'
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:8px;font:14px sans-serif">'
                    f'<div>{ex.summary.value}</div>{ex.html}</body></html>')

    def actions(p):
        frame = p.frame_locator('iframe')
        return dict(n_overlays=frame.locator('img.leaflet-image-layer').count(),
                    n_markers=frame.locator('path.leaflet-interactive').count())

    r = check_page(page, ARTIFACTS / 'field_explorer_map.png', width=1000, height=720, wait_ms=1500, actions=actions)
    _assert_clean(r)
    assert r['result']['n_overlays'] == 1  # one species, one period
    assert r['result']['n_markers'] > 0


def test_live_in_jupyterlab(tmp_path):
    """In a real JupyterLab, a displayed dashboard fed by the callback redraws while the cell runs, and the log-scale
    checkbox rebuilds it. The run's real rows are replayed through `DashboardCallback` with a short pause per row."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import nbformat
    from browser import ARGS, chromium_path
    from playwright.sync_api import sync_playwright
    out, live, trainer = real_run()
    code = [f"import json, time\nfrom deepearth.dashboard import Dashboard, DashboardCallback\n"
            f"rows = [json.loads(l) for l in open({str(out / 'history.jsonl')!r})]\n"
            f"dash = Dashboard(title='replayed in JupyterLab')\ndash",
            "cb = DashboardCallback(dash, min_interval_s=0.3, save=False)\n"
            "for r in rows:\n    (cb.on_eval if r['kind'] == 'eval' else cb.on_step)(None, r)\n    time.sleep(0.4)\n"
            "cb.on_end(None); dash.n_redraws"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    nb.metadata['kernelspec'] = dict(name='python3', display_name='Python 3 (ipykernel)', language='python')
    nbformat.write(nb, tmp_path / 'live.ipynb')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    lab = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ServerApp.token=t',
                            f'--ServerApp.root_dir={tmp_path}', '--allow-root', '--LabApp.news_url=',
                            f'--LabApp.workspaces_dir={tmp_path / "ws"}'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    visible_plot = ("() => { const p = [...document.querySelectorAll('.js-plotly-plot')].find(e => e.offsetParent); "
                    "if (!p) return null; const t = p.data.find(t => t.name === 'total (weighted)'); "
                    "return [t ? t.x.length : 0, p.layout.yaxis.type || 'linear'] }")
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
            page = b.new_page(viewport=dict(width=1400, height=1000))
            for _ in range(60):  # the server takes a few seconds to start
                try: page.goto(f'http://127.0.0.1:{port}/lab/tree/live.ipynb?token=t'); break
                except Exception: time.sleep(1)
            page.wait_for_selector('.jp-NotebookPanel .jp-Cell', timeout=60000)
            time.sleep(3)
            while page.locator('.jp-Dialog').count():  # e.g. the kernel choice
                page.locator('.jp-Dialog-button.jp-mod-accept').click(); time.sleep(1)
            cells = page.locator('.jp-NotebookPanel:visible .jp-Cell')
            cells.nth(0).locator('.jp-InputArea-editor').click(); page.keyboard.press('Shift+Enter')
            page.wait_for_selector('.js-plotly-plot', timeout=120000); time.sleep(1)
            assert page.evaluate(visible_plot) == [0, 'log']  # the empty dashboard, waiting for the first step
            page.keyboard.press('Shift+Enter')
            seen = []
            for _ in range(120):
                time.sleep(0.5)
                seen.append(page.evaluate(visible_plot)[0])
                if cells.nth(1).locator('.jp-OutputArea-output').count(): break
            time.sleep(1)
            n_train = sum(json.loads(l)['kind'] == 'train' for l in (out / 'history.jsonl').read_text().splitlines())
            assert page.evaluate(visible_plot) == [n_train, 'log'] and len(set(seen)) >= 3, seen  # it moved while running
            page.screenshot(path=ARTIFACTS / 'dashboard_jupyterlab.png')
            page.get_by_text('log-scale loss').click(); time.sleep(2)
            assert page.evaluate(visible_plot) == [n_train, 'linear']
            b.close()
    finally:
        lab.terminate()
        try: lab.wait(timeout=20)
        except subprocess.TimeoutExpired: lab.kill()
