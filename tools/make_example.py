"""Re-create reports/example/: the small committed example run that the README shows.

`python tools/make_example.py` (= `make example`) trains the `tiny` preset for 300 steps on the bundled NEON Florida
table with `deepearth demo` (group split by sampling event, 500 seeded test rows scored against the prior, the kNN and
the GBM) into a temporary folder, copies its config.yaml, stats.json, history.jsonl, metrics.json, dashboard.html and
map.html into reports/example/ (no checkpoints: 8 MB each) and screenshots the dashboard and the map in headless
Chromium (offline) as dashboard.png and map.png. `--from DIR` skips the training and uses a run already in DIR.

The seeds are fixed, so the metrics repeat on the same machine and library versions; the timings in history.jsonl
(elapsed_s, obs_per_s) do not. On a quiet 2-core machine the run takes about 3 minutes."""
import argparse, os, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'reports' / 'example'
FILES = ('config.yaml', 'stats.json', 'history.jsonl', 'metrics.json', 'dashboard.html', 'map.html')
ARGS = ['--preset', 'tiny', '--max-steps', '300', '--max-test-rows', '500']


def screenshot(html: Path, png: Path, width=1280, height=900, wait_ms=2500):
    "Open `html` from disk in headless Chromium with the network cut off and save a screenshot of the window."
    sys.path.insert(0, str(ROOT / 'tests'))
    from browser import check_page, why_no_browser
    if (why := why_no_browser()): sys.exit(f'example: {why}')
    r = check_page(html, png, width=width, height=height, wait_ms=wait_ms)
    if r['console_errors'] or r['external_requests']:
        sys.exit(f'example: {html.name} is not clean offline: {r["console_errors"]} {r["external_requests"]}')
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--from', dest='src', help='use the run in this folder instead of training')
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(a.src) if a.src else Path(tmp) / 'example'  # the folder name is the run's name in the dashboard
        if not a.src:
            env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2')}
            cmd = [str(Path(sys.executable).parent / 'deepearth'), 'demo', '--out', str(run), *ARGS]
            print('example:', ' '.join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT, env=env)
        missing = [f for f in FILES if not (run / f).is_file()]
        if missing: sys.exit(f'example: {run} lacks {missing}')
        if run.resolve() == OUT.resolve(): sys.exit('example: --from must name another folder than reports/example')
        if OUT.exists(): shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        for f in FILES: shutil.copy2(run / f, OUT / f)
    screenshot(OUT / 'dashboard.html', OUT / 'dashboard.png')
    screenshot(OUT / 'map.html', OUT / 'map.png', width=1000, height=700)
    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f'example: {len(list(OUT.iterdir()))} files, {size / 1e6:.1f} MB in {OUT.relative_to(ROOT)}/')


if __name__ == '__main__': main()
