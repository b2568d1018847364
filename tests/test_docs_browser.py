"""The docs site, built by tools/build_docs.sh into a temporary folder (the same build as `make docs`, which writes
_docs/), opened in headless Chromium with the network cut off. The index and the quickstart tutorial must render (many
colours), log no console error and request nothing from the network; the quickstart page must show what its notebook
computed: the metrics table beside the baselines, the loss figure, and the Leaflet map of a species field with its
image overlay. Screenshots go to tests/artifacts/: docs_index.png (the top of the index page) and
docs_quickstart.png (the quickstart page scrolled to its map). From disk, the search box finds pages (docs_search.png:
the results; the index is loaded as search.js, since a file:// page may not fetch() search.json) and maths is typeset
by the bundled KaTeX (docs_maths.png, the geodesy page). The build stages notebooks in _proc/ (git-ignored)."""
import os, subprocess, sys
from pathlib import Path

import pytest

from browser import ARTIFACTS, ROOT, check_page

# the build processes every notebook (about a minute) and each page starts Chromium: slow, skipped by `make test-fast`
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The docs site built into a temporary folder."
    out = tmp_path_factory.mktemp('docs') / 'site'
    env = {**os.environ, 'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'}
    r = subprocess.run(['bash', str(ROOT / 'tools' / 'build_docs.sh'), str(out)], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / 'index.html').is_file() and (out / 'tutorials' / 'quickstart.html').is_file(), sorted(out.rglob('*.html'))
    return out


def _assert_clean(r, min_colours=100):
    assert r['console_errors'] == [], r['console_errors']
    assert r['external_requests'] == [], r['external_requests']
    assert r['failed_requests'] == [], r['failed_requests']
    assert r['n_colours'] > min_colours, f"screenshot {r['screenshot']} has only {r['n_colours']} colours"


def test_index_offline(site):
    "The index renders offline, with the tutorials in the navbar and the sidebar."
    def actions(page):
        return dict(title=page.title(), tutorial_links=page.locator('a[href$="tutorials/quickstart.html"]').count(),
                    sidebar=page.locator('a[href$="tutorials/fields_tiles.html"]').count())
    r = check_page(site / 'index.html', ARTIFACTS / 'docs_index.png', actions=actions)
    _assert_clean(r)
    assert 'DeepEarth' in r['result']['title'], r['result']
    assert r['result']['tutorial_links'] >= 2 and r['result']['sidebar'] >= 1, r['result']  # navbar + sidebar


def test_quickstart_outputs_offline(site):
    "The quickstart page shows its outputs: the metrics table, the loss figure, and the map with its field image."
    def actions(page):
        figures = page.evaluate("""() => Array.from(document.querySelectorAll('img'))
            .filter(i => i.src.startsWith('data:image/png') && i.complete && i.naturalWidth > 100).length""")
        tables = page.locator('table').all_inner_texts()
        frame = page.locator('iframe').last
        frame.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)  # Leaflet draws the overlay and the markers
        inner = page.frame_locator('iframe').last
        return dict(figures=figures, tables=tables, iframes=page.locator('iframe').count(),
                    leaflet=inner.locator('.leaflet-container').count(),
                    overlays=inner.locator('img.leaflet-image-layer').count(),
                    markers=inner.locator('path.leaflet-interactive').count(),
                    map_png=frame.screenshot())

    r = check_page(site / 'tutorials' / 'quickstart.html', ARTIFACTS / 'docs_quickstart.png', actions=actions)
    _assert_clean(r)
    res = r['result']
    assert res['figures'] >= 1, res['figures']  # the loss curves
    metrics = [t for t in res['tables'] if 'prior' in t and 'knn' in t and 'gbm' in t]
    assert metrics and 'species' in metrics[0] and 'location' in metrics[0], res['tables']
    assert res['iframes'] >= 1 and res['leaflet'] == 1, res
    assert res['overlays'] >= 1 and res['markers'] > 10, res  # the field image and the training records
    from browser import count_colours
    assert count_colours(res['map_png'], centre=True) > 50, 'the map area is blank'


def test_search_from_disk(site):
    """Typing in the search box finds pages from file://: a fetch() of search.json is refused for a page opened from
    disk, so tools/fix_proc.py writes the index as search.js, which a script tag may load. The search for the
    geodesy page's function finds that page, and following the first result opens it."""
    def actions(page):
        box = page.locator('#quarto-search input').first
        box.click()
        box.type('haversine', delay=30)
        page.wait_for_selector('.smalldocs-search-results.show a.search-result', timeout=5000)
        hrefs = page.eval_on_selector_all('.smalldocs-search-results a.search-result', 'as => as.map(a => a.href)')
        texts = page.locator('.smalldocs-search-results a.search-result').all_inner_texts()
        shot = page.screenshot()
        page.locator('.smalldocs-search-results a.search-result').first.click()
        page.wait_for_load_state('load')
        page.wait_for_timeout(1000)  # the page that opened paints
        return dict(hrefs=hrefs, texts=texts, landed=page.url, h1=page.locator('h1').first.inner_text(), shot=shot)

    r = check_page(site / 'index.html', ARTIFACTS / 'docs_search_geo.png', actions=actions)
    res = r['result']
    (ARTIFACTS / 'docs_search.png').write_bytes(res.pop('shot'))  # the open results, before the click
    _assert_clean(r)
    assert res['hrefs'], res
    assert all(h.startswith('file://') for h in res['hrefs']), res['hrefs']
    assert any(h.split('#')[0].endswith('/api/geo.html') for h in res['hrefs'][:3]), res
    assert any('haversine' in t.lower() for t in res['texts']), res['texts']
    assert res['landed'].startswith('file://') and '/api/' in res['landed'], res['landed']


def test_search_nothing_found(site):
    "A query that matches nothing says so (the index loaded; an index that failed to load would look the same as none)."
    def actions(page):
        page.locator('#quarto-search input').first.type('zqxjvw', delay=20)
        page.wait_for_selector('.smalldocs-search-results.show', timeout=5000)
        n = page.evaluate('() => (window.smalldocsSearchIndex || []).length')
        return dict(text=page.locator('.smalldocs-search-results').first.inner_text(), n_index=n)
    r = check_page(site / 'index.html', None, actions=actions)
    assert r['console_errors'] == [] and r['external_requests'] == [], r
    assert 'No results' in r['result']['text'], r['result']
    assert r['result']['n_index'] > 50, r['result']  # the index was loaded from search.js


def test_maths_rendered_offline(site):
    "The geodesy page's formulas are typeset by the bundled KaTeX: .katex elements, no TeX delimiters left as text."
    html = (site / 'api' / 'geo.html').read_text()
    assert 'site_libs/katex/katex.min.js' in html and 'cdn.jsdelivr' not in html
    assert (site / 'site_libs' / 'katex' / 'fonts').is_dir()

    def actions(page):
        page.wait_for_function('() => document.querySelectorAll(".katex").length > 0', timeout=5000)
        el = page.locator('.katex').first
        el.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        text = page.locator('main').inner_text()
        fonts = page.evaluate('() => Array.from(document.fonts).filter(f => f.family.includes("KaTeX") && f.status === "loaded").length')
        return dict(n_katex=page.locator('.katex').count(), n_math=page.locator('span.math').count(),
                    raw=[d for d in ('$$', '\\(', '\\[') if d in text], fonts=fonts)

    r = check_page(site / 'api' / 'geo.html', ARTIFACTS / 'docs_maths.png', actions=actions)
    _assert_clean(r, min_colours=20)
    res = r['result']
    assert res['n_katex'] >= 4 and res['n_katex'] >= res['n_math'], res
    assert res['raw'] == [], res
    assert res['fonts'] >= 1, res  # KaTeX's own fonts, from site_libs/katex/fonts
