"Training: exact resumption, the stop on divergence, and checkpoint safety, on a real subset of the NEON Florida data."
import json, math, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepearth.config import DeepEarthInputError
from deepearth.data import load_observations
from deepearth.preprocess import TensorTable
from deepearth.train import (Trainer, TrainingDiverged, load_checkpoint, prepare, read_checkpoint, save_checkpoint,
                             RUN_FILES)

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data' / 'neon' / 'neon_florida_multitaxa.csv.gz'


TIMING = ('obs_per_s', 'elapsed_s')  # history fields that measure time


def same(a, b) -> bool:
    "Equal tensors (exactly), or equal plain data holding tensors (a module's extra state)."
    if torch.is_tensor(a): return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict): return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return type(a) == type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def florida_subset(folder: Path, n: int = 2000, seed: int = 0) -> Path:
    "A seeded random subset of the real Florida table, written with its YAML beside it."
    df = pd.read_csv(FLORIDA, low_memory=False)
    sub = df.iloc[np.sort(np.random.default_rng(seed).choice(len(df), n, replace=False))]
    path = folder / 'florida_subset.csv'
    sub.to_csv(path, index=False)
    shutil.copy(FLORIDA.with_name('neon_florida_multitaxa.yaml'), folder / 'florida_subset.yaml')
    return path


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    torch.set_num_threads(1)  # tiny networks: one thread, robust on a busy machine
    path = florida_subset(tmp_path_factory.mktemp('data'))
    obs = load_observations(path, path.with_suffix('.yaml'))
    cfg = obs.config.with_preset('tiny')
    cfg.batch_size, cfg.training.n_epochs = 32, 2  # ~40 steps per epoch
    return obs, cfg, prepare(obs, cfg)


def tensors(model):
    return {k: v for k, v in model.state_dict().items() if torch.is_tensor(v)}


def kw(**extra):
    return dict(device='cpu', progress=False, max_eval_contexts=256, **extra)


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(prepared, tmp_path):
    obs, cfg, prep = prepared
    a = Trainer(cfg, prep, tmp_path / 'a', **kw()).fit(test=False)
    Trainer(cfg, prep, tmp_path / 'b', **kw()).fit(epochs=1, test=False)
    first = read_checkpoint(tmp_path / 'b' / 'last.pt')
    assert (first['epoch'], first['epoch_step'], first['step']) == (1, 0, a.steps_per_epoch)
    b = Trainer(cfg, prep, tmp_path / 'b', **kw()).resume(tmp_path / 'b' / 'last.pt').fit(test=False)
    assert a.step == b.step == 2 * a.steps_per_epoch
    ta, tb = tensors(a.model), tensors(b.model)
    assert ta.keys() == tb.keys()
    for k in ta: torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=1e-6, msg=k)
    # the optimiser moments and the experts' balance biases continue too
    sa, sb = a.optimizer.state_dict()['state'], b.optimizer.state_dict()['state']
    for i in sa: torch.testing.assert_close(sa[i]['exp_avg_sq'], sb[i]['exp_avg_sq'], rtol=0, atol=1e-9)
    # the resumed run's history file reads as one run: steps increase, both epochs validated
    rows = [json.loads(l) for l in (tmp_path / 'b' / 'history.jsonl').read_text().splitlines()]
    train = [r['step'] for r in rows if r['kind'] == 'train']
    assert train == sorted(set(train)) and train[-1] == b.step
    assert [r['epoch'] for r in rows if r['kind'] == 'eval'] == [1.0, 2.0]
    ha = [r for r in a.history if r['kind'] == 'train']
    hb = [r for r in rows if r['kind'] == 'train']
    assert {r['step'] for r in ha} <= {r['step'] for r in hb}  # plus the row where the first part stopped
    for ra, rb in ((ha[0], hb[0]), (ha[-1], hb[-1])):  # rows averaging the same steps agree
        assert ra['step'] == rb['step'] and ra['loss'] == pytest.approx(rb['loss'], rel=1e-6)


def test_resume_inside_an_epoch(prepared, tmp_path):
    obs, cfg, prep = prepared
    a = Trainer(cfg, prep, tmp_path / 'a', **kw(max_steps=12)).fit(test=False)
    Trainer(cfg, prep, tmp_path / 'b', **kw(max_steps=12)).fit(steps=5, test=False)
    assert read_checkpoint(tmp_path / 'b' / 'last.pt')['epoch_step'] == 5
    b = Trainer(cfg, prep, tmp_path / 'b', **kw(max_steps=12)).resume(tmp_path / 'b' / 'last.pt').fit(test=False)
    ta, tb = tensors(a.model), tensors(b.model)
    for k in ta: torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=1e-6, msg=k)


def broken_copy(prep, value=float('inf')):
    "The prepared data with every recorded abundance of the real rows replaced by `value`."
    import copy
    bad = copy.copy(prep)
    bad.table = TensorTable(dict(prep.table.tensors))
    num = prep.table['num/abundance'].clone()
    num[~prep.table['num_missing/abundance']] = value
    bad.table.tensors['num/abundance'] = num
    return bad


def test_inf_in_data_stops_and_keeps_the_last_good_checkpoint(prepared, tmp_path):
    obs, cfg, prep = prepared
    Trainer(cfg, prep, tmp_path, **kw(max_steps=6)).fit(steps=3, test=False)
    good = (tmp_path / 'last.pt').read_bytes()
    t = Trainer(cfg, broken_copy(prep), tmp_path, **kw(max_steps=6)).resume(tmp_path / 'last.pt')
    with pytest.raises(TrainingDiverged) as e:
        t.fit(test=False)
    msg = str(e.value)
    assert 'step 4' in msg and 'abundance' in msg and 'Lower the learning rate' in msg and str(tmp_path / 'last.pt') in msg
    assert e.value.step == 4 and not math.isfinite(e.value.losses['loss'])
    assert (tmp_path / 'last.pt').read_bytes() == good
    assert t.step == 3  # the bad step was not taken
    rows = [json.loads(l) for l in (tmp_path / 'history.jsonl').read_text().splitlines()]
    assert all(math.isfinite(r['loss']) for r in rows if 'loss' in r)


def test_huge_learning_rate_diverges(prepared, tmp_path):
    obs, cfg, prep = prepared
    c = obs.config.with_preset('tiny')
    c.batch_size, c.training.learning_rate, c.training.warmup_steps = 32, 1e30, 0
    with pytest.raises(TrainingDiverged, match='training.learning_rate, now 1e\\+30'):
        Trainer(c, prep, tmp_path, **kw(max_steps=30)).fit(test=False)
    assert not (tmp_path / 'last.pt').exists()


def test_checkpoint_safety(prepared, tmp_path, monkeypatch):
    obs, cfg, prep = prepared
    t = Trainer(cfg, prep, tmp_path, **kw(max_steps=2)).fit(test=False)
    last = tmp_path / 'last.pt'
    # plain tensors and data: torch's safe loader reads it
    state = torch.load(last, weights_only=True)
    assert state['format'] == 'deepearth-checkpoint' and json.loads(state['config'])['preset'] == 'tiny'
    model, c2, stats, st = load_checkpoint(last)
    assert not model.training and st['step'] == 2 and stats.to_dict() == prep.stats.to_dict()
    # a write that fails half-way leaves the old file whole and no temporary file behind
    before = last.read_bytes()
    def failing_save(obj, f, *a, **k):
        f.write(b'partial bytes'); raise OSError('disk full')
    monkeypatch.setattr(torch, 'save', failing_save)
    with pytest.raises(OSError, match='disk full'): save_checkpoint(t.state_dict(), last)
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')) == []
    # clear errors for a truncated file, a foreign file, a missing file, another network, other data
    (tmp_path / 'cut.pt').write_bytes(before[:len(before) // 2])
    with pytest.raises(DeepEarthInputError, match='truncated'): load_checkpoint(tmp_path / 'cut.pt')
    torch.save({'w': torch.ones(2)}, tmp_path / 'other.pt')
    with pytest.raises(DeepEarthInputError, match='not a DeepEarth checkpoint'): load_checkpoint(tmp_path / 'other.pt')
    (tmp_path / 'text.pt').write_text('hello')
    with pytest.raises(DeepEarthInputError, match='is a text file, not a checkpoint'): load_checkpoint(tmp_path / 'text.pt')
    with pytest.raises(DeepEarthInputError, match='does not exist'): load_checkpoint(tmp_path / 'none.pt')
    with pytest.raises(DeepEarthInputError, match='different network'):
        load_checkpoint(last, config=obs.config.with_preset('small'))
    bad = dict(state); bad['model'] = {k: v for k, v in state['model'].items() if 'fusion' not in k}
    save_checkpoint(bad, tmp_path / 'altered.pt')
    with pytest.raises(DeepEarthInputError, match='do not fit'): load_checkpoint(tmp_path / 'altered.pt')
    other = prepare(obs, cfg, split={'train': prep.split['train'][10:], 'val': prep.split['val'], 'test':
                                     np.sort(np.concatenate([prep.split['test'], prep.split['train'][:10]]))})
    with pytest.raises(DeepEarthInputError, match='other data or another split'):
        Trainer(cfg, other, None, **kw()).resume(last)


@pytest.mark.slow
def test_train_module_entry_point(tmp_path):
    torch.set_num_threads(1)
    data = florida_subset(tmp_path, n=1000)
    out = tmp_path / 'run'
    cmd = [sys.executable, '-m', 'deepearth.train', str(data), '--preset', 'tiny', '--out', str(out), '--max-steps', '4',
           '--max-test-rows', '50', '--device', 'cpu', '--no-progress', '--json']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res['steps'] == 4 and res['world_size'] == 1 and sorted(res['files']) == sorted(RUN_FILES)
    metrics = json.loads((out / 'metrics.json').read_text())
    assert {'species', 'location', 'time'} <= set(metrics['targets']) and metrics['training']['steps'] == 4
    # the same folder again: refused with a clear message and exit code 2, not overwritten
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 2 and 'already holds a training run' in r.stderr and 'Traceback' not in r.stderr
