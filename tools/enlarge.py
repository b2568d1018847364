"""Write a SYNTHETIC enlargement of the NEON birds table: N copies of its real rows, jittered, for scale tests only.

Copy 0 is the real table unchanged; copies 1..N-1 move every row by a random offset of up to `--jitter-m` metres
north-south and east-west (default 300 m) and up to `--jitter-days` days in time (default 3, whole minutes: the table's
precision), and keep every other column as it is. Rows without coordinates or a time stay without them, so the rows a
load rejects are exactly N times the source's. The output is labelled synthetic twice: in its file name
(`<stem>_SYNTHETIC_x<N>.parquet`) and in the Parquet metadata (`deepearth_synthetic`); the dataset config is copied
beside it with a header saying so. One copy is written as one row group at a time, so memory stays at about one copy.
Write it to a temporary folder; never commit it.

    python tools/enlarge.py 10 /tmp/scale            # 3,021,860 rows
    python tools/enlarge.py 33 /tmp/scale --rows 10000000   # exactly 10 million rows (the last copy cut short)
"""
from __future__ import annotations
import argparse, json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / 'data' / 'neon' / 'neon_birds.parquet'
M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


def jitter(table: pa.Table, rng: np.random.Generator, jitter_m: float, jitter_days: float) -> pa.Table:
    "One jittered copy: latitude/longitude moved up to `jitter_m` metres, the time up to `jitter_days` days."
    lat = table['latitude'].to_numpy(zero_copy_only=False)
    lon = table['longitude'].to_numpy(zero_copy_only=False)
    n = len(lat)
    dlat = rng.uniform(-jitter_m, jitter_m, n) / M_PER_DEG
    dlon = rng.uniform(-jitter_m, jitter_m, n) / (M_PER_DEG * np.maximum(np.cos(np.radians(np.nan_to_num(lat))), 0.01))
    new_lat = np.clip(lat + dlat, -90, 90)
    new_lon = (lon + dlon + 180) % 360 - 180
    t = table['observation_datetime']
    minutes = rng.integers(-int(jitter_days * 1440), int(jitter_days * 1440) + 1, n)
    shifted = pa.compute.add(t, pa.array(minutes * 60_000_000, pa.duration('us')))  # nulls stay null
    for name, col in (('latitude', pa.array(new_lat, mask=np.isnan(lat))), ('longitude', pa.array(new_lon, mask=np.isnan(lon))),
                      ('observation_datetime', shifted)):
        table = table.set_column(table.schema.get_field_index(name), name, col.cast(table.schema.field(name).type))
    return table


def enlarge(factor: int, out_dir, rows: int | None = None, jitter_m: float = 300.0, jitter_days: float = 3.0,
            seed: int = 0, source=SOURCE) -> Path:
    "Write `factor` copies of `source` (copy 0 real, the others jittered), at most `rows` rows; returns the path."
    import pyarrow.compute  # noqa: F401  (pa.compute)
    out_dir = Path(out_dir); out_dir.mkdir(parents=True, exist_ok=True)
    src = pq.read_table(source)
    src = src.replace_schema_metadata(None)  # the pandas index metadata of the source does not describe the copies
    total = factor * len(src) if rows is None else min(rows, factor * len(src))
    label = (f'SYNTHETIC: {factor} copies of {Path(source).name} ({len(src):,} real rows), copies 1..{factor - 1} '
             f'jittered by up to {jitter_m:g} m and {jitter_days:g} days (seed {seed}); {total:,} rows. For scale '
             f'tests only: not observations.')
    schema = src.schema.with_metadata({'deepearth_synthetic': json.dumps(dict(
        description=label, source=str(Path(source).name), factor=factor, rows=total, jitter_m=jitter_m,
        jitter_days=jitter_days, seed=seed))})
    path = out_dir / f'{Path(source).stem}_SYNTHETIC_x{factor}.parquet'
    rng = np.random.default_rng(seed)
    left = total
    with pq.ParquetWriter(path, schema) as w:
        for k in range(factor):
            if left <= 0: break
            part = src if k == 0 else jitter(src, rng, jitter_m, jitter_days)
            part = part.slice(0, min(left, len(part)))
            w.write_table(part.cast(schema))
            left -= len(part)
    cfg = Path(source).with_suffix('.yaml')
    if cfg.is_file():
        (out_dir / f'{path.stem}.yaml').write_text(f'# {label}\n' + cfg.read_text())
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('factor', type=int, help='copies of the table (copy 0 unchanged)')
    p.add_argument('out_dir', help='where to write (a temporary folder)')
    p.add_argument('--rows', type=int, help='stop at this many rows')
    p.add_argument('--jitter-m', type=float, default=300.0)
    p.add_argument('--jitter-days', type=float, default=3.0)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    path = enlarge(a.factor, a.out_dir, a.rows, a.jitter_m, a.jitter_days, a.seed)
    print(path, pq.ParquetFile(path).metadata.num_rows, 'rows')


if __name__ == '__main__':
    main()
