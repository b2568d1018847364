"Property checks of deepearth.sampling on small seeded tables (the notebook checks the real NEON table)."
import numpy as np
import pandas as pd
import pytest
import torch

from deepearth.config import preset
from deepearth.sampling import NeighbourIndex, ContextSampler, reference_context, gather_context


def _table(xyz, t, **cols):
    return pd.DataFrame(dict(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], time=t, **cols))


def _kinds(nb):
    s = np.array(nb.slot_kinds)
    return {k: s == k for k in dict.fromkeys(nb.slot_kinds)}


@pytest.mark.parametrize('n_pool_frac', [1.0, 0.5])
def test_distinct_points_are_exact_knn(n_pool_frac):
    "With no ties, the spatial and temporal neighbours are exactly the brute-force k nearest rows."
    rng = np.random.default_rng(0)
    n = 2000
    df = _table(rng.normal(size=(n, 3)) * 1000, rng.random(n) * 1e8)
    cfg = preset('tiny', context_size=16)
    pool = np.sort(rng.choice(n, int(n * n_pool_frac), replace=False))
    seeds = np.arange(n) if n_pool_frac == 1.0 else np.setdiff1d(np.arange(n), pool)
    nb = NeighbourIndex.build(df, cfg, pool=pool, seeds=seeds)
    idx, pad = nb.contexts(seed=0, dedupe=False)
    assert not pad.any()
    sl, xyz, t = _kinds(nb), df[['x', 'y', 'z']].to_numpy(), df.time.to_numpy()
    for i in rng.choice(len(seeds), 50, replace=False):
        s = seeds[i]
        p = pool[pool != s]
        want_s = p[np.argsort(np.linalg.norm(xyz[p] - xyz[s], axis=1))[:nb.counts['spatial']]]
        want_t = p[np.argsort(np.abs(t[p] - t[s]))[:nb.counts['temporal']]]
        assert set(idx[i, sl['spatial']]) == set(want_s)
        assert set(idx[i, sl['temporal']]) == set(want_t)


def test_ties_between_positions_on_a_grid():
    "On a regular grid (many equidistant positions, several rows per position) the distances match brute force."
    g = np.stack(np.meshgrid(np.arange(6.), np.arange(6.), [0.]), -1).reshape(-1, 3) * 100
    xyz = np.repeat(g, 3, axis=0)  # 3 rows at each grid node
    n = len(xyz)
    df = _table(xyz, np.repeat(np.arange(n // 4), 4)[:n] * 3600., event=np.arange(n) // 5)
    cfg = preset('tiny', context_size=12, ecological_columns=['event'])
    nb = NeighbourIndex.build(df, cfg)
    idx, pad = nb.contexts(seed=1, dedupe=False)
    codes = {'event': df.event.to_numpy()}
    sl, rng = _kinds(nb), np.random.default_rng(0)
    for s in range(n):
        ri, rp = reference_context(xyz, df.time.to_numpy(), codes, s, nb.pool, nb.counts, rng)
        for kind, d in (('spatial', lambda r: np.linalg.norm(xyz[r] - xyz[s], axis=-1)),
                        ('temporal', lambda r: np.abs(df.time.to_numpy()[r] - df.time.to_numpy()[s]))):
            np.testing.assert_allclose(np.sort(d(idx[s, sl[kind]])), np.sort(d(ri[sl[kind]])))
        m = sl['ecological:event']
        assert pad[s, m].sum() == (ri[m] == s).sum()
        assert (codes['event'][idx[s, m][~pad[s, m]]] == codes['event'][s]).all()
    assert not (idx[:, 1:] == idx[:, :1])[~pad[:, 1:]].any()  # never the seed itself


def test_sampler_covers_every_seed_and_gathers():
    rng = np.random.default_rng(0)
    n = 1000
    df = _table(rng.integers(0, 20, (n, 3)).astype(float), rng.integers(0, 50, n).astype(float) * 86400)
    nb = NeighbourIndex.build(df, preset('tiny'), seeds=np.arange(0, n, 2), pool=np.arange(1, n, 2))
    table = {'row': torch.arange(n), 'xyz': torch.tensor(df[['x', 'y', 'z']].to_numpy())}
    batches = list(ContextSampler(n, nb, 64, chunk_size=100))
    seeds = torch.cat([b[0][:, 0] for b in batches])
    assert sorted(seeds.tolist()) == list(range(0, n, 2))
    for idx, pad in batches:
        assert idx.shape == pad.shape and idx.shape[1] == 8
        assert (idx[:, 1:][~pad[:, 1:]] % 2 == 1).all()  # neighbours only from the pool (odd rows)
        b = gather_context(table, idx)
        assert torch.equal(b['row'], idx) and b['xyz'].shape == (*idx.shape, 3)
