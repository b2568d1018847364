"""Every notebook under nbs/ names its kernel, so JupyterLab (and papermill) open it without asking which kernel.

`python tools/kernelspec.py` checks: it names each notebook without a Python 3 kernelspec and exits 1.
`python tools/kernelspec.py --fix [NOTEBOOK ...]` sets it (on the given notebooks, default every one under nbs/).

The kernelspec is the one `nbdev-clean` leaves: nbdev keeps the `kernelspec` key of the notebook metadata and sets
its `display_name` to its `name`, so a notebook written here is unchanged by `nbdev-clean` (tools/check_sync.py runs
both). The file is written as nbdev writes notebooks (one-space indent, a final newline), and only when it changes."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {'display_name': 'python3', 'language': 'python', 'name': 'python3'}


def notebooks(root: Path = ROOT) -> list[Path]:
    "The notebooks under nbs/, without Jupyter's checkpoints and nbdev's staging folder."
    return sorted(p for p in (root / 'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and '_proc' not in p.parts)


def missing(paths) -> list[Path]:
    "The notebooks in `paths` whose kernelspec is not a Python 3 kernel."
    out = []
    for p in paths:
        ks = json.loads(Path(p).read_text(encoding='utf-8')).get('metadata', {}).get('kernelspec') or {}
        if ks.get('name') != 'python3' or ks.get('language', 'python') != 'python': out.append(Path(p))
    return out


def fix(paths) -> list[Path]:
    "Set the kernelspec of each notebook in `paths` that lacks it; return those written."
    done = []
    for p in missing(paths):
        nb = json.loads(p.read_text(encoding='utf-8'))
        nb.setdefault('metadata', {})['kernelspec'] = dict(KERNELSPEC)
        nb['metadata'] = dict(sorted(nb['metadata'].items()))  # nbdev writes sorted keys
        p.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        done.append(p)
    return done


def main(argv):
    if argv[:1] == ['--fix']:
        paths = [Path(a) for a in argv[1:]] or notebooks()
        for p in fix(paths): print(f'kernelspec set: {p}')
        return 0
    bad = missing(notebooks())
    if bad:
        print('These notebooks name no Python 3 kernel, so JupyterLab asks which one to use. Run '
              '`python tools/kernelspec.py --fix` and commit:', *(f'  {p.relative_to(ROOT)}' for p in bad), sep='\n')
        return 1
    return 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
