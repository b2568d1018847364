"""Prepare nbdev-proc-nbs output (_proc/) for smalldocs, which ignores Quarto's `output-file`.

nbdev names each page after its module (`api/00_config.ipynb` -> `output-file: config.html`) and links symbols to
the absolute documentation URL. Here each processed notebook is renamed to its `output-file`, and links to the
documentation URL become relative, so the site works from disk with no network. The sidebar in `_proc/_quarto.yml`
follows the renames."""
import json, re, sys
from pathlib import Path

proc = Path(sys.argv[1] if len(sys.argv) > 1 else '_proc')
doc_url = sys.argv[2] if len(sys.argv) > 2 else 'https://deepearth.github.io/deepearth/'
renames = {}
for nb_path in sorted(proc.rglob('*.ipynb')):
    nb = json.loads(nb_path.read_text())
    rel = nb_path.relative_to(proc)
    up = '../' * (len(rel.parts) - 1)
    for c in nb['cells']:
        if isinstance(c['source'], list): c['source'] = ''.join(c['source'])
        c['source'] = c['source'].replace(doc_url, up)
        for o in c.get('outputs', []):
            for k, v in o.get('data', {}).items():
                if isinstance(v, str): o['data'][k] = v.replace(doc_url, up)
                elif isinstance(v, list): o['data'][k] = [s.replace(doc_url, up) for s in v]
    m = re.search(r'^output-file:\s*(\S+)\.html\s*$', nb['cells'][0]['source'] if nb['cells'] else '', re.M)
    target = nb_path.with_name(m.group(1) + '.ipynb') if m else nb_path
    nb_path.write_text(json.dumps(nb))
    if target != nb_path:
        nb_path.rename(target)
        renames[str(nb_path.relative_to(proc))] = str(target.relative_to(proc))
# the sidebar names source notebooks (as Quarto wants); point it at the renamed ones
qy = proc / '_quarto.yml'
if qy.exists():
    txt = qy.read_text()
    for old, new in renames.items(): txt = re.sub(rf'(?<![\w/]){re.escape(old)}\b', new, txt)
    qy.write_text(txt)
