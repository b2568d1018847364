"""Faults: `deepearth train` killed with SIGKILL during a step, during a checkpoint write, right after one, and during
the write of best.pt at an epoch's end; stopped with SIGINT or SIGTERM; given an unwritable folder or a full disk. After
every kill the last checkpoint loads, `--resume` continues, and the finished run equals (on the CPU, exactly) an
uninterrupted run of the same config. Real data: a seeded subset of the NEON Florida table (1,500 rows: 135 steps an
epoch with the tiny preset, so the 150-step run crosses an epoch end)."""
import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from deepearth.config import DeepEarthInputError
from deepearth.train import check_output_dir, checkpoint_bytes, load_checkpoint, read_checkpoint

from test_train import TIMING, florida_subset, same

ROOT = Path(__file__).resolve().parents[1]
STEPS, EVERY = 150, 10  # the run's length, and a checkpoint every 10 steps (the tiny preset logs every 10 too)
STEPS_PER_EPOCH = 135  # of the 1,500-row subset with the tiny preset's batch of 8
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}


def train_cmd(data, out, *extra):
    return [sys.executable, '-m', 'deepearth.cli', 'train', str(data), '--preset', 'tiny', '--out', str(out),
            '--max-steps', str(STEPS), '--checkpoint-every', str(EVERY), '--max-test-rows', '100', '--device', 'cpu',
            '--no-progress', '--no-report', '--json', *extra]


def start(data, out, *extra, log=None):
    log = log or out.parent / f'{out.name}-{time.monotonic_ns()}.log'
    f = open(log, 'w')
    p = subprocess.Popen(train_cmd(data, out, *extra), stdout=f, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
    p.log_path, p.log_file = log, f
    return p


def finish(p, timeout=600):
    rc = p.wait(timeout=timeout)
    p.log_file.close()
    return rc, Path(p.log_path).read_text()


def stopped(pid):
    "True once the process is in the stopped state (after SIGSTOP)."
    try: return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] in 'Tt'
    except (FileNotFoundError, IndexError): return False


def freeze(p):
    "SIGSTOP the process and wait until it is stopped: what is on disk then stays as it is until the SIGKILL."
    os.kill(p.pid, signal.SIGSTOP)
    for _ in range(10_000):
        if stopped(p.pid): return
        time.sleep(0.001)
    raise AssertionError('the process did not stop')


def temporaries(out):
    return sorted(q.name for q in out.glob('.last.pt.*.tmp'))


def wait_for(cond, p, timeout=300, poll=0.001):
    t0 = time.monotonic()
    while not cond():
        if p.poll() is not None: raise AssertionError(f'the run ended (rc {p.returncode}) before the kill point:\n'
                                                      + Path(p.log_path).read_text()[-3000:])
        if time.monotonic() - t0 > timeout: raise AssertionError('kill point not reached')
        time.sleep(poll)


def kill(p):
    os.kill(p.pid, signal.SIGKILL)
    rc, log = finish(p)
    assert rc == -signal.SIGKILL, (rc, log[-2000:])


def train_rows(out):
    rows = [json.loads(l) for l in (out / 'history.jsonl').read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def assert_same_run(a, b, history=True):
    "Two finished runs: equal weights in last.pt, equal metrics.json, and (optionally) equal history rows."
    wa, wb = read_checkpoint(a / 'last.pt')['model'], read_checkpoint(b / 'last.pt')['model']
    assert wa.keys() == wb.keys()
    for k in wa: assert same(wa[k], wb[k]), k
    assert json.loads((a / 'metrics.json').read_text()) == json.loads((b / 'metrics.json').read_text())
    if history: assert train_rows(a) == train_rows(b)


def check_loads(out):
    "last.pt is a whole checkpoint: it loads, its weights are finite; returns its step."
    model, cfg, stats, st = load_checkpoint(out / 'last.pt')
    assert cfg.preset == 'tiny' and all(torch.isfinite(q).all() for q in model.parameters())
    return st['step']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return florida_subset(tmp_path_factory.mktemp('faults-data'), n=1500, seed=1)


@pytest.fixture(scope='module')
def reference(data, tmp_path_factory):
    "The uninterrupted run."
    out = tmp_path_factory.mktemp('faults') / 'reference'
    rc, log = finish(start(data, out))
    assert rc == 0, log[-3000:]
    assert read_checkpoint(out / 'last.pt')['step'] == STEPS
    return out


@pytest.mark.slow
def test_sigkill_at_four_points_then_resume_equals_uninterrupted(data, reference, tmp_path):
    out, rng, survived = tmp_path / 'killed', random.Random(7), []
    # (a) during a step: after the first checkpoint, at a seeded random time
    p = start(data, out)
    wait_for(lambda: (out / 'last.pt').is_file() and not temporaries(out), p)
    time.sleep(rng.uniform(0.2, 1.5))
    kill(p)
    step = check_loads(out)
    assert step % EVERY == 0 and 0 < step < STEPS
    survived.append(('during a step', step))
    # (b) during a checkpoint write: caught with its temporary file on disk, the process frozen mid-write
    p = start(data, out, '--resume')
    while True:
        wait_for(lambda: temporaries(out), p)
        freeze(p)
        if temporaries(out): break
        os.kill(p.pid, signal.SIGCONT)  # the write ended between the poll and the stop: wait for the next one
    kill(p)
    assert temporaries(out)  # the half-written file is there ...
    step_b = check_loads(out)  # ... and last.pt is the previous, whole checkpoint (the write was of the next one)
    assert step_b == step
    survived.append(('during a checkpoint write', step_b))
    # (c) right after a checkpoint's rename
    p = start(data, out, '--resume')
    before = (out / 'last.pt').stat().st_ino
    wait_for(lambda: (out / 'last.pt').stat().st_ino != before, p)
    freeze(p)
    kill(p)
    step_c = check_loads(out)
    assert step_c > step_b
    assert not temporaries(out)  # the resumed run removed what the kill during the write left
    survived.append(('right after a checkpoint rename', step_c))
    # (d) during the write of best.pt at the end of the first epoch (step 135, after its validation)
    p = start(data, out, '--resume')
    while True:
        wait_for(lambda: list(out.glob('.best.pt.*.tmp')), p)
        freeze(p)
        if list(out.glob('.best.pt.*.tmp')): break
        os.kill(p.pid, signal.SIGCONT)
    kill(p)
    step_d = check_loads(out)  # best.pt is written before last.pt: last.pt is the checkpoint before the epoch's end
    assert step_d == STEPS_PER_EPOCH // EVERY * EVERY and not (out / 'best.pt').exists()
    survived.append(('during the write of best.pt at the epoch end', step_d))
    # the last continuation runs to the end: the same run as the uninterrupted one
    rc, log = finish(start(data, out, '--resume'))
    assert rc == 0, log[-3000:]
    assert check_loads(out) == STEPS
    assert_same_run(reference, out)
    print('kill points survived (kill point, step of last.pt):', survived)


@pytest.mark.slow
def test_sigint_stops_after_a_checkpoint_and_resumes(data, reference, tmp_path):
    out = tmp_path / 'interrupted'
    p = start(data, out)
    wait_for(lambda: (out / 'last.pt').is_file(), p)
    time.sleep(0.5)
    os.kill(p.pid, signal.SIGINT)
    rc, log = finish(p)
    assert rc == 130, log[-3000:]
    assert 'Training stopped by SIGINT after step' in log and '--resume' in log and str(out / 'last.pt') in log, log
    assert 'Traceback' not in log
    step = int(log.split('after step ')[1].split()[0].replace(',', ''))
    assert check_loads(out) == step and 0 < step < STEPS
    assert not (out / 'metrics.json').exists()
    # the command the message gives (no --max-steps: the run's length comes from its checkpoint)
    cmd = [sys.executable, '-m', 'deepearth.cli', 'train', str(data), '--out', str(out), '--resume', '--max-test-rows',
           '100', '--device', 'cpu', '--no-progress', '--no-report', '--json']
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)['steps'] == STEPS
    # equal weights and metrics; the history row after the stop averages fewer steps, so rows are not compared
    assert_same_run(reference, out, history=False)


@pytest.mark.slow
def test_sigterm_exits_143_with_a_checkpoint(data, tmp_path):
    out = tmp_path / 'terminated'
    p = start(data, out)
    wait_for(lambda: (out / 'last.pt').is_file(), p)
    os.kill(p.pid, signal.SIGTERM)
    rc, log = finish(p)
    assert rc == 143 and 'stopped by SIGTERM' in log, log[-3000:]
    assert check_loads(out) > 0


def run_cli(data, out, timeout=300):
    r = subprocess.run(train_cmd(data, out), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout)
    return r.returncode, r.stderr


@pytest.mark.slow
def test_unwritable_output_folder_is_refused_before_training(data, tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('a file where a folder should be')
    rc, err = run_cli(data, blocker / 'run')
    assert rc == 2 and 'cannot be written' in err and str(blocker / 'run') in err and 'Traceback' not in err, err


def mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(where)], capture_output=True)
    return r.returncode == 0


@pytest.mark.slow
def test_full_or_read_only_disk_is_refused_before_training(data, tmp_path):
    "A real 4 MiB filesystem (a tmpfs, where this test may mount one) is too small for the tiny run's ~27 MiB."
    small, ro = tmp_path / 'small-disk', tmp_path / 'read-only-disk'
    if not mount_tmpfs(small, 'size=4m'): pytest.skip('cannot mount a tmpfs here (needs root); '
                                                      'test_free_space_check covers the check')
    try:
        rc, err = run_cli(data, small / 'run')
        assert rc == 2 and 'Traceback' not in err, err
        assert str(small / 'run') in err and '4.0 MiB free, but this run needs about' in err, err
        assert not (small / 'run' / 'last.pt').exists()
        assert mount_tmpfs(ro, 'size=4m,ro')
        rc, err = run_cli(data, ro / 'run')
        assert rc == 2 and 'cannot be written' in err and 'Read-only file system' in err, err
    finally:
        for m in (small, ro): subprocess.run(['umount', str(m)], capture_output=True)


def test_free_space_check(tmp_path):
    "The check against the real free space of this test's folder, with a need larger than it."
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(DeepEarthInputError, match='free, but this run needs about') as e:
        check_output_dir(tmp_path / 'run', need_bytes=free + 2**40)
    assert str(tmp_path / 'run') in str(e.value)
    assert check_output_dir(tmp_path / 'run', need_bytes=1)['free'] > 0
    # the estimate of a checkpoint covers the weights and AdamW's two moments in float32
    assert checkpoint_bytes(1_000_000) >= 12_000_000


@pytest.mark.slow
def test_sigint_in_the_test_phase_writes_incomplete_metrics_and_resume_scores(data, tmp_path):
    "Ctrl-C while the test split of the whole Florida table is scored (a minute on 2 cores): exit 130, metrics.json marked incomplete, the "
    "checkpoints whole; `--resume` then trains nothing and scores the test split."
    out, florida = tmp_path / 'testing', ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'  # 16,974 test rows
    base = [sys.executable, '-m', 'deepearth.cli', 'train', str(florida), '--out', str(out), '--device', 'cpu',
            '--no-progress', '--no-report']
    cmd = base + ['--preset', 'tiny', '--max-steps', '3']
    log = open(tmp_path / 'log', 'w')
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
    p.log_path = tmp_path / 'log'
    wait_for(lambda: (out / 'best.pt').is_file() and (out / 'last.pt').is_file(), p, poll=0.01)
    time.sleep(1.0)  # into the scoring of the test split (every test row of the subset, with the baselines)
    os.kill(p.pid, signal.SIGINT)
    rc = p.wait(timeout=300); log.close()
    text = (tmp_path / 'log').read_text()
    assert rc == 130, text[-3000:]
    assert 'Scoring the test split stopped by SIGINT' in text and '--resume' in text and 'Traceback' not in text, text
    partial = json.loads((out / 'metrics.json').read_text())
    assert partial['incomplete'] and partial['targets'] == {} and partial['training']['steps'] == 3
    assert check_loads(out) == 3 and not list(out.glob('.*.tmp'))
    r = subprocess.run(base + ['--resume', '--max-test-rows', '50'],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert r.returncode == 0 and 'no training step was left' in r.stdout, r.stderr[-3000:]
    done = json.loads((out / 'metrics.json').read_text())
    assert not done.get('incomplete') and 'species' in done['targets'] and check_loads(out) == 3
    # and once more: the run is finished, said plainly (exit 0), the metrics unchanged
    r2 = subprocess.run(base + ['--resume'], capture_output=True, text=True, env=ENV,
                        cwd=ROOT, timeout=600)
    assert r2.returncode == 0 and 'had already finished' in r2.stdout, (r2.stdout, r2.stderr)
    assert json.loads((out / 'metrics.json').read_text()) == done


@pytest.mark.slow
def test_second_run_into_a_running_folder_is_refused_and_the_lock_dies_with_a_kill(data, tmp_path):
    out = tmp_path / 'busy'
    p = start(data, out)
    wait_for(lambda: (out / 'last.pt').is_file(), p)
    rc, err = run_cli(data, out)
    assert rc == 2 and f'is in use: another run (PID {p.pid})' in err and str(out) in err, err
    kill(p)  # SIGKILL: the lock goes with the process
    r = subprocess.run(train_cmd(data, out, '--resume'), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)['steps'] == STEPS


@pytest.mark.slow
def test_disk_full_during_the_run_exits_2_and_leaves_no_temporary(data, tmp_path):
    "The disk fills up after the preflight (another program writes a file): the next checkpoint write exits 2, no .tmp."
    disk = tmp_path / 'disk'
    if not mount_tmpfs(disk, 'size=40m'): pytest.skip('cannot mount a tmpfs here (needs root)')
    try:
        out = disk / 'run'
        p = start(data, out)
        wait_for(lambda: (out / 'last.pt').is_file(), p)
        free = shutil.disk_usage(disk).free
        with open(disk / 'filler', 'wb') as f: f.write(b'\0' * max(0, free - 64 * 1024))
        rc, log = finish(p)
        assert rc == 2 and 'is full: writing' in log and '--resume' in log and 'Traceback' not in log, log[-3000:]
        assert not list(out.glob('.*.tmp')), list(out.iterdir())
        assert check_loads(out) > 0  # the last whole checkpoint
    finally: subprocess.run(['umount', str(disk)], capture_output=True)
