"""List notebook code cells that mix imports with other top-level code.

nbdev's docs build (`nbdev-proc-nbs`) executes every cell that contains an import, from the project root; a cell that
also computes something then runs with the wrong working directory and slows or breaks the docs build. nbdev's rule
(and ours): imports in their own cells. Exits 1 and names the cells if any mix."""
import ast, sys
from pathlib import Path
import nbformat

def offenders(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'code': continue
        src = '\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith(('%', '!')))
        try: tree = ast.parse(src)
        except SyntaxError: continue
        if '#| export' in c.source or '#|export' in c.source or '#| eval: false' in c.source: continue
        imp = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)  # as nbdev warns: top-level imports
        other = any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)
        if imp and other: yield i, c.source.splitlines()[0][:80]

if __name__ == '__main__':
    root = Path(__file__).resolve().parents[1] / 'nbs'
    bad = [(p, i, s) for p in sorted(root.rglob('*.ipynb')) if '.ipynb_checkpoints' not in p.parts for i, s in offenders(p)]
    for p, i, s in bad: print(f'{p.relative_to(root.parent)} cell {i}: {s}')
    sys.exit(1 if bad else 0)
