"""Security: checkpoints never unpickle code, and the HTML a run writes references nothing outside its folder.

A malicious checkpoint is a torch file whose pickle holds an object with a `__reduce__` payload (calling `open(marker,
'w')` on load). `read_checkpoint`, `load_checkpoint`, resuming a run, and the CLI (`evaluate`, `field`, `train --resume`)
must refuse it with a clear message (exit 2), and the marker file must not exist afterwards.

DeepEarth starts no server: the maps, tile viewer and dashboard are static HTML files (`test_no_server_in_the_package`
checks the source). So instead of a server's `../` test, the pages a run writes are checked to reference only
relative paths inside the report folder (no `file://`, no absolute paths, no `../` escaping the folder, nothing
fetched from the network).
"""
from __future__ import annotations

import io, pickle, re, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepearth.cli import main
from deepearth.config import DeepEarthInputError
from deepearth.maps import external_urls
from deepearth.train import load_checkpoint, read_checkpoint, run_training, CHECKPOINT_FORMAT, CHECKPOINT_VERSION

ROOT = Path(__file__).resolve().parents[1]
FLORIDA = ROOT / 'data/neon/neon_florida_multitaxa.csv.gz'
FLORIDA_YAML = ROOT / 'data/neon/neon_florida_multitaxa.yaml'


class Payload:
    "Unpickling this object calls open(marker, 'w'): it creates the marker file (a stand-in for any code)."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, 'w'))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    "A file that looks like a DeepEarth checkpoint (format, version) but carries the payload."
    torch.save({'format': CHECKPOINT_FORMAT, 'version': CHECKPOINT_VERSION, 'model': {'w': torch.zeros(2)},
                'config': '{}', 'stats': '{}', 'payload': Payload(marker)}, path)
    return path


@pytest.fixture
def bad(tmp_path):
    marker = tmp_path / 'PWNED'
    return malicious_checkpoint(tmp_path / 'bad.pt', marker), marker


@pytest.fixture(scope='module')
def florida_rows(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')
    df = pd.read_csv(FLORIDA, low_memory=False)
    path = d / 'florida_subset.csv'
    df.iloc[np.sort(np.random.default_rng(0).choice(len(df), 2000, replace=False))].to_csv(path, index=False)
    shutil.copy(FLORIDA_YAML, path.with_suffix('.yaml'))
    return path


def test_the_payload_is_real(tmp_path):
    "Unpickled without weights_only, the file does run its code: the refusals below are what stops it."
    marker = tmp_path / 'PWNED'
    malicious_checkpoint(tmp_path / 'bad.pt', marker)
    assert not marker.exists()
    torch.load(tmp_path / 'bad.pt', weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize('load', [read_checkpoint, load_checkpoint], ids=['read_checkpoint', 'load_checkpoint'])
def test_api_refuses_a_malicious_pickle(bad, load):
    path, marker = bad
    with pytest.raises(DeepEarthInputError, match=r'was refused: it holds pickled Python code \(io\.open\)'):
        load(path)
    assert not marker.exists()


def test_resume_refuses_a_malicious_pickle(bad, florida_rows, tmp_path):
    path, marker = bad
    out = tmp_path / 'run'
    out.mkdir()
    shutil.copy(path, out / 'last.pt')
    with pytest.raises(DeepEarthInputError, match='was refused'):
        run_training(florida_rows, preset='tiny', out=out, resume=True, progress=False)
    assert not marker.exists()


@pytest.mark.parametrize('command', ['evaluate', 'field', 'train --resume'])
def test_cli_refuses_a_malicious_pickle(bad, florida_rows, tmp_path, command, capsys):
    path, marker = bad
    if command == 'evaluate': args = ['evaluate', path, florida_rows]
    elif command == 'field': args = ['field', path, '--out', tmp_path / 'f.nc']
    else:
        (tmp_path / 'run').mkdir()
        shutil.copy(path, tmp_path / 'run' / 'last.pt')
        args = ['train', florida_rows, '--preset', 'tiny', '--resume', '--out', tmp_path / 'run', '--no-progress']
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith(f"deepearth {command.split()[0]}: error: ") and 'Traceback' not in err, err
    assert 'was refused: it holds pickled Python code (io.open)' in err and 'unless you trust its source' in err
    assert not marker.exists()


@pytest.mark.slow
def test_console_refuses_a_malicious_pickle(bad, tmp_path):
    "The same through a real process."
    path, marker = bad
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'field', str(path), '--out', str(tmp_path / 'f.nc')],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 2 and 'was refused' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not marker.exists()


def test_no_torch_load_without_weights_only():
    "Every torch.load in the package passes weights_only=True; nothing calls pickle.load."
    src = {p.name: p.read_text() for p in (ROOT / 'deepearth').glob('*.py')}
    loads = [(n, m.group(0)) for n, s in src.items() for m in re.finditer(r'torch\.load\([^)]*\)', s)]
    assert loads, 'expected the checkpoint reader to call torch.load'
    assert all('weights_only=True' in call for _, call in loads), loads
    assert not [n for n, s in src.items() if re.search(r'\bpickle\.loads?\(|\bdill\b|joblib\.load', s)]


def test_no_server_in_the_package():
    "DeepEarth serves nothing: no HTTP server, socket or web framework in the package (reports are static files)."
    pat = re.compile(r'http\.server|socketserver|^\s*import socket|from socket import|serve_forever|HTTPServer|'
                     r'uvicorn|flask|tornado|aiohttp|\.serve\(|panel\.serve|bokeh\.server', re.M)
    hits = [(p.name, m.group(0)) for p in (ROOT / 'deepearth').glob('*.py') for m in pat.finditer(p.read_text())]
    assert hits == [], hits


_REF = re.compile(r'''\b(?:src|href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]+)|tileLayer\(\s*["']([^"']+)["']''', re.I)


def local_references(page: str) -> list[str]:
    "Every src/href/url()/tileLayer reference of a page that is not inline (data:, #anchor, javascript:, blob:)."
    refs = [next(g for g in m.groups() if g is not None) for m in _REF.finditer(page)]
    return [r.strip() for r in refs if r.strip() and not re.match(r'(?i)(data:|#|javascript:|blob:|about:)', r.strip())]


def test_reference_check_catches_escapes(tmp_path):
    "The check below is not vacuous: absolute, file:// and ../ references are flagged."
    page = ('<img src="data:image/png;base64,AAAA"><a href="#top"></a><img src="tiles/1/2/3.png">'
            '<img src="file:///etc/passwd"><script src="/usr/share/x.js"></script><img src="../../secret.png">'
            '<script>L.tileLayer("../other/{z}/{x}/{y}.png")</script><a href="https://plotly.com/">plotly</a>')
    assert escaping(page, tmp_path / 'report.html', tmp_path) == ['file:///etc/passwd', '/usr/share/x.js',
                                                                  '../../secret.png', '../other/{z}/{x}/{y}.png']


def escaping(page: str, page_path: Path, root: Path) -> list[str]:
    "The local references of `page` that leave `root`: file:// (or another scheme), absolute paths, ../ out of it."
    bad = []
    for r in local_references(page):
        if re.match(r'(?i)(https?:)?//', r): continue  # a web link to click (external_urls checks nothing is fetched)
        if re.match(r'(?i)[a-z][a-z0-9+.-]*:', r) or r.startswith(('/', '\\')):
            bad.append(r); continue
        target = (page_path.parent / r.split('?')[0].split('#')[0]).resolve()
        if not target.is_relative_to(root.resolve()): bad.append(r)
    return bad


@pytest.mark.slow
def test_report_pages_reference_only_their_folder(florida_rows, tmp_path, capsys):
    "A run's dashboard.html, map.html and tile viewer: every reference relative and inside the run folder."
    torch.set_num_threads(1)
    out = tmp_path / 'run'
    code = main(['train', str(florida_rows), '--preset', 'tiny', '--max-steps', '3', '--max-test-rows', '30',
                 '--out', str(out), '--no-progress'])
    assert code == 0, capsys.readouterr()
    code = main(['tiles', str(out / 'last.pt'), '--resolution', '8', '--zoom', '5-6', '--out', str(out / 'tiles')])
    assert code == 0, capsys.readouterr()
    pages = sorted(out.rglob('*.html'))
    assert {p.relative_to(out).as_posix() for p in pages} >= {'dashboard.html', 'map.html', 'tiles/index.html'}
    for p in pages:
        page = p.read_text()
        assert escaping(page, p, out) == [], p
        assert external_urls(page) == [], p  # nothing fetched from the network either
    viewer = (out / 'tiles' / 'index.html').read_text()
    templates = re.findall(r'tileLayer\(\s*"([^"]+)"', viewer)
    assert templates and all(not t.startswith(('/', '..', 'file:')) for t in templates), templates
    z, x, y = next((out / 'tiles').rglob('*.png')).relative_to(out / 'tiles').parts[-3:]  # a tile that exists ...
    assert any((out / 'tiles' / t.replace('{z}', z).replace('{x}', x).replace('{y}', y[:-4])).is_file()
               for t in templates)  # ... is where the viewer's relative template points
