"""`deepearth run` on the real experiment template: papermill executes nbs/experiments/train.ipynb with parameters into a
report folder (executed notebook, offline HTML, run files); a failing cell exits non-zero, named in the message, with its
error kept in the executed notebook and its HTML."""
import json, subprocess, sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEEPEARTH = Path(sys.executable).parent / 'deepearth'


def run(*args, cwd=ROOT):
    return subprocess.run([str(DEEPEARTH), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow  # trains the tiny preset for a few steps and scores 300 test rows: about a minute
def test_run_train_template_writes_a_report(tmp_path):
    out = tmp_path / 'run'
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'preset', 'tiny', '-p', 'max_steps', '20',
            '-p', 'max_test_rows', '300', '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ('train.ipynb', 'train.html', 'parameters.json', 'config.yaml', 'metrics.json', 'history.jsonl', 'best.pt'):
        assert (out / name).is_file(), name
    metrics = json.loads((out / 'metrics.json').read_text())
    assert set(metrics['targets']) >= {'species', 'location', 'time'}
    assert metrics['n_test'] > 0
    html = (out / 'train.html').read_text()
    assert 'src="http' not in html  # the HTML export opens offline
    # no front matter leaks into the report; the dashboard and the map are beside it, linked and shown
    assert 'skip_exec' not in html and '---' not in html.split('<body', 1)[1][:3000]
    for page in ('dashboard.html', 'map.html'):
        assert (out / page).is_file() and f'href="{page}"' in html and f'src="{page}"' in html, page
    # a second run into the folder is refused before any work; --resume of the finished run says so
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'preset', 'tiny', '--out', out)
    assert r.returncode == 2 and 'already holds a run' in r.stderr and '--resume' in r.stderr, r.stderr


@pytest.mark.slow
def test_run_failing_cell_exits_nonzero_and_names_it(tmp_path):
    "A cell that raises (a seed that is no number): exit 1, the cell named; an input error inside the notebook exits 2."
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'seed', 'seven', '--out', tmp_path / 'bad')
    assert r.returncode == 1
    assert 'failed in cell' in r.stderr and 'seven' in r.stderr, r.stderr
    # the executed notebook and its HTML keep the error: the failing cell's traceback is in them
    nb = nbformat.read(tmp_path / 'bad' / 'train.ipynb', as_version=4)
    errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) if o.output_type == 'error']
    assert len(errors) == 1 and 'seven' in errors[0]['evalue'], errors
    assert errors[0]['ename'] in r.stderr
    html = (tmp_path / 'bad' / 'train.html').read_text()
    assert 'seven' in html and errors[0]['ename'] in html
    # a data file that does not exist (absolute path) is refused in the notebook: a user error, exit 2
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'data', tmp_path / 'missing.csv', '--out', tmp_path / 'bad2')
    assert r.returncode == 2 and 'deepearth run: error:' in r.stderr and 'missing.csv' in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr


def test_run_unknown_parameter_is_an_input_error(tmp_path):
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'epochz', '2', '--out', tmp_path / 'x')
    assert r.returncode == 2 and "has no parameter 'epochz'" in r.stderr, r.stderr


def test_run_help_lists_the_notebook_parameters():
    r = run('run', 'nbs/experiments/train.ipynb', '--help')
    assert r.returncode == 0, r.stderr
    text = r.stdout.split('parameters of nbs/experiments/train.ipynb', 1)[1]
    for line in ("preset            str   default 'small': network sizes", 'max_steps         any   default None',
                 'resume            bool  default False', 'seed              int   default 0'):
        assert line in text, text


def test_run_relative_paths_resolve_from_the_callers_folder(tmp_path):
    "`-p data sub/x.csv` from another folder: read from there (papermill runs the notebook in the report folder)."
    (tmp_path / 'sub').mkdir()
    r = run('run', ROOT / 'nbs/experiments/train.ipynb', '-p', 'data', 'sub/x.csv', '--out', 'rep', cwd=tmp_path)
    assert r.returncode == 2 and f"{tmp_path / 'sub/x.csv'} does not exist" in r.stderr, r.stderr
    assert not (tmp_path / 'rep' / 'train.ipynb').exists()  # refused before running


@pytest.mark.slow
def test_run_resumes_after_a_kill(tmp_path):
    "`deepearth run` killed (SIGKILL, the whole process group) after a checkpoint; `--resume` finishes the run from last.pt."
    import os, signal, time
    sys.path.insert(0, str(ROOT / 'tests'))
    from test_train import florida_subset
    data = florida_subset(tmp_path, 1500)
    out = tmp_path / 'rep'
    args = [str(DEEPEARTH), 'run', 'nbs/experiments/train.ipynb', '-p', 'data', str(data), '-p', 'preset', 'tiny',
            '-p', 'max_steps', '150', '-p', 'checkpoint_every', '10', '-p', 'max_test_rows', '100', '-p', 'report',
            'false', '-p', 'device', 'cpu', '--out', str(out)]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    t0 = time.monotonic()
    while not (out / 'last.pt').is_file() and p.poll() is None and time.monotonic() - t0 < 600: time.sleep(0.05)
    assert p.poll() is None, 'the run ended before its first checkpoint'
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    import torch
    step = torch.load(out / 'last.pt', weights_only=True)['step']
    assert 0 < step < 150 and not (out / 'metrics.json').exists()
    r = subprocess.run(args + ['--resume'], cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert torch.load(out / 'last.pt', weights_only=True)['step'] == 150
    metrics = json.loads((out / 'metrics.json').read_text())
    assert not metrics.get('incomplete') and metrics['training']['steps'] == 150
    steps = [json.loads(l)['step'] for l in (out / 'history.jsonl').read_text().splitlines() if l.strip()]
    assert steps == sorted(steps) and steps[-1] == 150  # the history continues where the checkpoint was
