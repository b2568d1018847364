"Distributed training: two CPU processes under torchrun (gloo), on a real subset of the NEON Florida data."
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from deepearth.train import load_checkpoint, read_checkpoint

from test_train import florida_subset

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    data = florida_subset(tmp_path, n=2000, seed=1)  # (seed 0 trips a bug of the GBM baseline on tiny tables, reported)
    out = tmp_path / 'ddp'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'deepearth.train',
           str(data), '--preset', 'tiny', '--out', str(out), '--max-steps', '12', '--max-test-rows', '100',
           '--device', 'cpu', '--no-progress', '--json']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(r.stdout[r.stdout.index('{'):])  # only rank 0 prints
    assert r.stdout.count('"rank":') == 1
    assert res['world_size'] == 2 and res['rank'] == 0 and res['steps'] == 12
    # both processes ran: the checkpoint holds one masking-generator state per process, and they differ
    state = read_checkpoint(out / 'last.pt')
    assert state['world_size'] == 2 and len(state['rng']['mask']) == 2
    assert not torch.equal(state['rng']['mask'][0], state['rng']['mask'][1])
    model, cfg, stats, st = load_checkpoint(out / 'best.pt')
    assert cfg.preset == 'tiny' and st['step'] == 12 and all(torch.isfinite(p).all() for p in model.parameters())
    # one run's files, written once (by rank 0)
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    steps = [r['step'] for r in rows if r['kind'] == 'train']
    assert steps == sorted(set(steps)) and steps[-1] == 12
    assert [r['split'] for r in rows if r['kind'] == 'eval'] == ['val', 'test']
    assert json.loads((out / 'metrics.json').read_text())['training']['world_size'] == 2
