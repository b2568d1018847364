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


@pytest.mark.slow
def test_run_failing_cell_exits_nonzero_and_names_it(tmp_path):
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'data', tmp_path / 'missing.csv', '--out', tmp_path / 'bad')
    assert r.returncode == 1
    assert 'failed in cell' in r.stderr and 'missing.csv' in r.stderr, r.stderr
    # the executed notebook and its HTML keep the error: the failing cell's traceback is in them
    nb = nbformat.read(tmp_path / 'bad' / 'train.ipynb', as_version=4)
    errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) if o.output_type == 'error']
    assert len(errors) == 1 and 'missing.csv' in errors[0]['evalue'], errors
    assert errors[0]['ename'] in r.stderr
    html = (tmp_path / 'bad' / 'train.html').read_text()
    assert 'missing.csv' in html and errors[0]['ename'] in html


def test_run_unknown_parameter_is_an_input_error(tmp_path):
    r = run('run', 'nbs/experiments/train.ipynb', '-p', 'epochz', '2', '--out', tmp_path / 'x')
    assert r.returncode == 2 and "has no parameter 'epochz'" in r.stderr, r.stderr
