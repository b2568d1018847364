"""Science jobs: one real tiny job end to end on the ISU archive (every target beside its baselines, one JSON file),
the collector, and the command line running a job in its own process."""
import json, subprocess, sys

import pytest

from deepearth.science import collect, job_list, results_table, run_job, science_main

TARGETS = ['country', 'location', 'sex', 'species', 'time']
TINY = dict(dataset='isu', steps=6, overrides={'preset': 'tiny'}, seed=0, curve=False)


def test_tiny_job_and_collect(tmp_path):
    r = run_job('isu-tiny', TINY, tmp_path, test_rows=300)
    saved = json.loads((tmp_path / 'isu-tiny.json').read_text())
    assert saved['job'] == 'isu-tiny' and saved['steps'] == 6 and saved['seed'] == 0
    assert saved['split']['kind'] == 'random' and saved['split']['n_test'] > 0
    assert sorted(saved['metrics']['targets']) == TARGETS
    for t, m in saved['metrics']['targets'].items():
        assert {'model', 'prior', 'knn', 'gbm'} <= set(m), (t, sorted(m))
    assert saved['metrics']['n_evaluated'] == 300
    assert 'skipped' in saved['probe'] or saved['probe'].get('column')  # the ISU table has no column to probe
    doc = collect(tmp_path, tmp_path / 'results.json', note='test')
    assert list(doc['jobs']) == ['isu-tiny'] and doc['note'] == 'test'
    assert json.loads((tmp_path / 'results.json').read_text())['jobs']['isu-tiny']['steps'] == 6
    tab = results_table(doc)
    assert sorted(tab.target) == TARGETS
    assert tab[['model', 'prior', 'knn']].notna().all().all()


def test_job_list_follows_budget():
    jobs = job_list(10)
    assert {n: j['steps'] for n, j in jobs.items() if n.endswith('-4x')} == {'demo-4x': 40, 'neon_birds-4x': 40, 'isu-4x': 40}
    assert jobs['demo-1x-context1']['overrides'] == {'context_size': 1}


def test_cli_bad_job_and_subprocess(tmp_path):
    assert science_main(['--jobs', 'no-such-job', '--out', str(tmp_path)]) == 2
    r = subprocess.run([sys.executable, '-m', 'deepearth.science', '--jobs', 'isu-1x', '--budget', '3', '--test-rows', '100',
                        '--no-probe', '--out', str(tmp_path / 'jobs'), '--results', str(tmp_path / 'res.json')],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / 'res.json').read_text())
    assert doc['jobs']['isu-1x']['steps'] == 3 and doc['jobs']['isu-1x']['threads'] == 1
    assert (tmp_path / 'jobs' / 'isu-1x.log').is_file()
