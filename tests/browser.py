"""Open a page DeepEarth writes (a map, a dashboard, a docs page) in headless Chromium, with the network cut off.

`check_page(path_or_url, screenshot_path)` returns what a test asserts on: the console errors, every request to a
non-local URL (each one is blocked and recorded), the failed requests, and the number of distinct colours in a
screenshot (a blank or broken page has a handful). Chromium is Debian's `/usr/bin/chromium` (`tools/install_browser.sh`
installs it; `DEEPEARTH_CHROMIUM` points elsewhere), driven by Playwright with a fresh profile per page.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / 'tests' / 'artifacts'  # git-ignored
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage']
LOCAL_SCHEMES = {'file', 'data', 'blob', 'about', 'chrome-error'}
LOCAL_HOSTS = {'localhost', '127.0.0.1', '::1', '[::1]'}


def chromium_path() -> str | None:
    "The Chromium executable to use, or None."
    p = os.environ.get('DEEPEARTH_CHROMIUM', '/usr/bin/chromium')
    return p if os.access(p, os.X_OK) else shutil.which('chromium')


def why_no_browser(install: bool = True) -> str | None:
    "None if pages can be checked here, else the reason; runs tools/install_browser.sh once if Chromium is missing."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'deepearth[dev]')"
    if chromium_path() is None and install:
        r = subprocess.run(['bash', str(ROOT / 'tools' / 'install_browser.sh')], capture_output=True, text=True)
        if chromium_path() is None:
            return f'no Chromium and tools/install_browser.sh could not install it: {(r.stderr or r.stdout)[-300:]}'
    return None if chromium_path() else 'no Chromium (run tools/install_browser.sh or set DEEPEARTH_CHROMIUM)'


def is_local(url: str) -> bool:
    "Whether fetching `url` stays on this machine."
    u = urlparse(url)
    return u.scheme in LOCAL_SCHEMES or (u.hostname or '') in LOCAL_HOSTS


def count_colours(png: bytes, centre: bool = False) -> int:
    "Number of distinct RGB colours in a PNG image (or in its central half, away from controls at the edges)."
    from PIL import Image
    a = np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))
    if centre:
        h, w = a.shape[:2]
        a = a[h // 4:3 * h // 4, w // 4:3 * w // 4]
    a = a.reshape(-1, 3).astype(np.uint32)
    return len(np.unique(a[:, 0] << 16 | a[:, 1] << 8 | a[:, 2]))


def check_page(path_or_url, screenshot_path=None, *, width: int = 1200, height: int = 800, wait_ms: int = 1000,
               actions=None) -> dict:
    """Load a page offline in headless Chromium; return dict(console_errors, external_requests, failed_requests,
    n_colours, n_colours_centre, screenshot, result). `actions(page)` runs after loading (clicks…) and before the
    screenshot; its return value is `result`."""
    from playwright.sync_api import sync_playwright
    url = str(path_or_url)
    if '://' not in url: url = Path(url).resolve().as_uri()
    console, external, failed = [], [], []

    def route(r):
        if is_local(r.request.url): r.continue_()
        else: external.append(r.request.url); r.abort()

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=chromium_path(), headless=True, args=ARGS,
                                                   viewport=dict(width=width, height=height), offline=False)
        try:
            ctx.route('**/*', route)
            page = ctx.new_page()
            page.on('console', lambda m: console.append(m.text) if m.type == 'error' else None)
            page.on('pageerror', lambda e: console.append(f'uncaught: {e}'))
            page.on('requestfailed', lambda r: failed.append(f'{r.url} ({r.failure})'))
            page.goto(url, wait_until='load')
            page.wait_for_timeout(wait_ms)
            result = actions(page) if actions else None
            png = page.screenshot(full_page=False)
        finally:
            ctx.close()
    if screenshot_path is not None:
        Path(screenshot_path).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot_path).write_bytes(png)
    return dict(console_errors=console, external_requests=external, failed_requests=failed,
                n_colours=count_colours(png), n_colours_centre=count_colours(png, centre=True), screenshot=str(screenshot_path) if screenshot_path else None,
                result=result)
