"""Write README.md from nbs/index.ipynb — the offline stand-in for `nbdev-readme`, which needs Quarto.

Markdown cells are copied; code cells become ```python blocks (nbdev `#|` directive lines dropped, `#| hide` cells
skipped) followed by their text outputs. `--check` exits 1 if README.md is out of date instead of writing it."""
import argparse, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, then `make readme`. -->']
    for c in nb.cells:
        src = c.source.rstrip()
        if c.cell_type == 'markdown':
            parts.append(src)
            continue
        if c.cell_type != 'code': continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(d.replace(' ', '') in ('#|hide', '#|include:false') for d in directives): continue
        code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if code and not any(d.replace(' ', '') == '#|echo:false' for d in directives): parts.append(f'```python\n{code}\n```')
        for o in c.get('outputs', []):
            text = o.get('text') or o.get('data', {}).get('text/markdown') or o.get('data', {}).get('text/plain')
            if text: parts.append(f"```\n{''.join(text).rstrip()}\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--check', action='store_true', help='fail if README.md is out of date')
    a = ap.parse_args()
    txt, readme = render(ROOT / 'nbs' / 'index.ipynb'), ROOT / 'README.md'
    if a.check:
        if not readme.exists() or readme.read_text() != txt:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `make readme` and commit README.md.')
    else: readme.write_text(txt)
