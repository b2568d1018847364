"""Execute a notebook in place so its committed outputs are current, skipping cells flagged `#| eval: false` as nbdev does.

`jupyter nbconvert --execute` runs every cell, including the GPU-only and `__main__` cells that nbdev marks
`#| eval: false`; this runs the rest, from the notebook's folder, then the caller runs `nbdev-clean`.
Usage: python tools/execute_nb.py nbs/tutorials/01_quickstart.ipynb [more notebooks]
"""
import re
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor


class SkipEvalFalse(ExecutePreprocessor):
    "Execute every code cell except those flagged `#| eval: false` (their outputs are cleared)."
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == 'code' and re.search(r'^#\|\s*eval:\s*false', cell.source, re.M):
            cell.outputs, cell.execution_count = [], None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


if __name__ == '__main__':
    for name in sys.argv[1:]:
        p = Path(name)
        nb = nbformat.read(p, as_version=4)
        t0 = time.time()
        SkipEvalFalse(timeout=1800, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(p.parent)}})
        nbformat.write(nb, p)
        print(f'{p}: executed in {time.time() - t0:.0f} s')
