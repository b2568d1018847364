"""Scale benchmark: peak memory (RSS) of loading, and of load + prepare + a few training steps, at growing table sizes.

Recorded, never asserted. Each measurement runs in a fresh Python process (so its peak RSS is its own) on the NEON
birds table (302,186 rows) and on SYNTHETIC enlargements of it made by `tools/enlarge.py` (real rows jittered by up to
300 m and 3 days; labelled so in their file names), in one piece (`chunk_rows=0`) and in chunks (`--chunks`, default 250,000 rows).
The enlargements are written to `--tmp` (never committed). Writes `scale.json` and `scale.md` to `--out`.

    python tests/benchmarks/bench_scale.py [--out reports/bench] [--tmp /tmp/deepearth-scale] [--sizes 1,10,33]
                                           [--train-sizes 1,10] [--steps 3]
                                           [--chunks 0,250000]

One measurement by hand: `python tests/benchmarks/bench_scale.py --worker load|train PATH CHUNK_ROWS [STEPS]`.
"""
from __future__ import annotations
import argparse, json, os, platform, resource, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
CONFIG = ROOT / 'data' / 'neon' / 'neon_birds.yaml'
SOURCE = ROOT / 'data' / 'neon' / 'neon_birds.parquet'


def _rss_mb() -> float:
    "Peak resident memory of this process so far, MB: VmHWM (ru_maxrss would carry the parent's peak over exec)."
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024
    except OSError: pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(mode: str, path: str, chunk_rows: int, steps: int = 3, cache_dir: str | None = None) -> dict:
    "Run one measurement in this process and return its figures."
    from deepearth.config import PRESETS  # noqa: F401  (imports torch and the package before the baseline)
    from deepearth.data import load_observations, read_config
    from deepearth.train import prepare, Trainer
    cfg = read_config(CONFIG)
    base = _rss_mb()
    t0 = time.perf_counter()
    obs = load_observations(path, cfg, chunk_rows=chunk_rows, cache_dir=cache_dir)
    load_s = time.perf_counter() - t0
    res = dict(mode=mode, path=Path(path).name, chunk_rows=chunk_rows, cache=cache_dir is not None, rows_read=obs.report.rows_read,
               rows_kept=obs.report.rows_kept, rejected=obs.report.n_rejected, load_s=round(load_s, 2),
               rows_per_s=round(obs.report.rows_read / load_s), rss_imports_mb=round(base),
               rss_after_load_mb=round(_rss_mb()), df_mb=round(obs.df.memory_usage(deep=True).sum() / 2**20))
    if mode == 'train':
        tcfg = obs.config.with_preset('tiny')
        # a 1 m level over the 9,400 km extent of the 47 sites overflows the grid's int64 level sizes (grid4d
        # level_storage: 2**72); without it the finest cell is 10 m
        tcfg.grid4d.spatial_resolutions = [r for r in tcfg.grid4d.spatial_resolutions if r >= 10]
        t0 = time.perf_counter()
        prep = prepare(obs, tcfg)
        res['prepare_s'] = round(time.perf_counter() - t0, 2)
        res['rss_after_prepare_mb'] = round(_rss_mb())
        tr = Trainer(tcfg, prep, None, device='cpu', progress=False, max_steps=steps)
        it = tr._epoch_batches(0, 0)
        t0 = time.perf_counter()
        losses = [tr.train_step(*next(it))[0]['loss'] for _ in range(steps)]
        res.update(steps=steps, step_s=round((time.perf_counter() - t0) / steps, 3), final_loss=round(losses[-1], 4))
    res['peak_rss_mb'] = round(_rss_mb())
    return res


def measure(mode: str, path, chunk_rows: int, steps: int = 3, cache_dir=None) -> dict:
    "One measurement in a fresh process (its peak RSS is its own)."
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, __file__, '--worker', mode, str(path), str(chunk_rows), str(steps)]
                       + ([str(cache_dir)] if cache_dir else []),
                       capture_output=True, text=True, env=env)
    if r.returncode: raise RuntimeError(f'{mode} {path} {chunk_rows} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default=str(ROOT / 'reports' / 'bench'))
    p.add_argument('--tmp', default='/tmp/deepearth-scale')
    p.add_argument('--sizes', default='1,10,34', help='enlargement factors to load (34: cut at 10,000,000 rows)')
    p.add_argument('--train-sizes', default='1,10', help='factors to load, prepare and train a few steps on')
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--chunks', default='0,100000,100000c',
                   help='chunk_rows to compare (0 = the table in one piece; a trailing c: with a cache_dir in --tmp)')
    p.add_argument('--name', default='', help='a subfolder of --out for this run')
    p.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        mode, path, chunk = a.worker[:3]
        print(json.dumps(worker(mode, path, int(chunk), int(a.worker[3]) if len(a.worker) > 3 else 3,
                                a.worker[4] if len(a.worker) > 4 else None)))
        return
    sys.path.insert(0, str(ROOT / 'tools'))
    from enlarge import enlarge
    load_sizes, train_sizes = ({int(x) for x in v.split(',') if x} for v in (a.sizes, a.train_sizes))
    sizes = sorted(load_sizes | train_sizes)
    paths = {f: SOURCE if f == 1 else enlarge(f, a.tmp, rows=10_000_000 if f == 34 else None) for f in sizes}
    rows = []
    for f in sizes:
        for spec in a.chunks.split(','):
            chunk, cache = int(spec.rstrip('c')), Path(a.tmp) / 'cache' if spec.endswith('c') else None
            modes = (['load'] if f in load_sizes else []) + (['train'] if f in train_sizes else [])
            for mode in modes:
                r = measure(mode, paths[f], chunk, a.steps, cache)
                if cache: shutil.rmtree(cache, ignore_errors=True)
                r['factor'] = f
                print(json.dumps(r), flush=True)
                rows.append(r)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    meta = dict(machine=platform.machine(), cpus=os.cpu_count(), python=platform.python_version(),
                when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    out = out / a.name if a.name else out
    out.mkdir(parents=True, exist_ok=True)
    (out / 'scale.json').write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    head = '| factor | rows | mode | chunk_rows | cache | load s | rows/s | peak RSS MB | after load MB | imports MB |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for r in rows:
        lines.append(f"| {r['factor']} | {r['rows_read']:,} | {r['mode']} | {r['chunk_rows']:,} | {r['cache']} | {r['load_s']} | "
                     f"{r['rows_per_s']:,} | {r['peak_rss_mb']:,} | {r['rss_after_load_mb']:,} | {r['rss_imports_mb']:,} |")
    (out / 'scale.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
