"""Reproducibility: the same seed and config, run twice on the CPU as separate processes, give the same run: the same
weights, the same history of losses and the same test metrics, exactly (real data: a seeded subset of NEON Florida)."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from deepearth.train import read_checkpoint

from test_train import TIMING, florida_subset, same

ROOT = Path(__file__).resolve().parents[1]


def train(data, out):
    cmd = [sys.executable, '-m', 'deepearth.train', str(data), '--preset', 'tiny', '--out', str(out), '--max-steps', '60',
           '--max-test-rows', '200', '--device', 'cpu', '--no-progress', '--json']
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'},
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


@pytest.mark.slow
def test_same_seed_and_config_give_the_same_run(tmp_path):
    data = florida_subset(tmp_path, n=1500, seed=2)
    a, b = train(data, tmp_path / 'a'), train(data, tmp_path / 'b')
    assert a['steps'] == b['steps'] == 60
    assert a['final_train_loss'] == b['final_train_loss'] and a['best_val_loss'] == b['best_val_loss']
    wa, wb = (read_checkpoint(tmp_path / n / 'last.pt')['model'] for n in 'ab')
    assert wa.keys() == wb.keys() and all(same(wa[k], wb[k]) for k in wa)
    ha, hb = ([{k: v for k, v in json.loads(l).items() if k not in TIMING}
               for l in (tmp_path / n / 'history.jsonl').read_text().splitlines()] for n in 'ab')
    assert ha == hb and len(ha) > 3
    ma, mb = (json.loads((tmp_path / n / 'metrics.json').read_text()) for n in 'ab')
    assert ma == mb and ma['n_test'] > 0
