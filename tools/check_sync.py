"""CI check: `nbdev-export` and `nbdev-clean` must change nothing, README.md must match nbs/index.ipynb, no
notebook cell mixes imports with other code, and every notebook names its kernel (tools/kernelspec.py).

Runs both tools, compares content hashes of nbs/ and deepearth/ before and after, and names every file they changed.
(Works on a dirty working tree too: it compares file contents, not git status.)"""
import hashlib, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def snapshot():
    files = [p for d in ('nbs', 'deepearth') for p in (ROOT / d).rglob('*')
             if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts]
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

def main():
    before = snapshot()
    for tool in ('nbdev-export', 'nbdev-clean'):
        r = subprocess.run([str(BIN / tool)], cwd=ROOT, capture_output=True, text=True)
        if r.returncode: sys.exit(f'{tool} failed:\n{r.stdout}\n{r.stderr}')
    after = snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        print('nbdev-export / nbdev-clean changed these files; the notebooks and the package are out of sync or the '
              'notebooks were committed unclean. Run `nbdev-export && nbdev-clean` and commit:', *changed, sep='\n  ')
        sys.exit(1)
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'make_readme.py'), '--check'], cwd=ROOT)
    if r.returncode: sys.exit(1)
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'check_import_cells.py')], cwd=ROOT)
    if r.returncode: sys.exit('Cells above mix imports with other code: put imports in their own cells (the docs build '
                              'executes every cell with an import).')
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'kernelspec.py')], cwd=ROOT)
    if r.returncode: sys.exit(1)
    print(f'in sync: {len(after)} files under nbs/ and deepearth/, README.md')

if __name__ == '__main__': main()
