"""Prepare nbdev-proc-nbs output (_proc/) for smalldocs, and make a rendered site independent of the network.

`python tools/fix_proc.py _proc [--output-dir DIR]`: smalldocs ignores Quarto's `output-file`. nbdev names each page
after its module (`api/00_config.ipynb` -> `output-file: config.html`) and links symbols to the absolute documentation
URL. Here each processed notebook is renamed to its `output-file`, and links to the documentation URL become relative,
so the site works from disk with no network. The sidebar in `_proc/_quarto.yml` follows the renames; `--output-dir`
sets where the site is written (default: the project's `output-dir`, `_docs/`). Tutorials (`tutorials/*.ipynb`) have no
`output-file` and keep their names; their links to API pages become `../api/...`.

`python tools/fix_proc.py --offline-site DIR`: the Bootswatch theme's CSS imports its web font from Google Fonts. A
page then asks the network for it (an error in the browser console when offline) although the browser's own fonts
render it fine; the import is removed from every stylesheet of the rendered site in DIR."""
import json, os, re, sys
from pathlib import Path

REMOTE_IMPORT = re.compile(r'@import\s+url\(\s*["\']?(?:https?:)?//[^)]*\)[^;]*;')


def offline_site(site: Path) -> int:
    "Remove remote `@import`s from the site's CSS files; return how many were removed."
    n = 0
    for css in site.rglob('*.css'):
        txt = css.read_text(encoding='utf-8', errors='surrogateescape')
        new, k = REMOTE_IMPORT.subn('', txt)
        if k: css.write_text(new, encoding='utf-8', errors='surrogateescape'); n += k
    return n


LINK = re.compile(r'(\]\()([^)\s#:]+\.ipynb)((?:#[^)\s]*)?\))')  # a Markdown link to a notebook: ](path.ipynb#anchor)


def _output_name(nb: dict) -> str | None:
    "The `output-file` stem nbdev-proc-nbs put in a processed notebook's front matter, if any."
    m = re.search(r'^output-file:\s*(\S+)\.html\s*$', ''.join(nb['cells'][0]['source']) if nb['cells'] else '', re.M)
    return m.group(1) if m else None


def fix_proc(proc: Path, doc_url: str = 'https://deepearth.github.io/deepearth/', output_dir: str | None = None):
    "Rename processed notebooks to their output-file, make doc links relative, point links, the sidebar (and output-dir)."
    nbs = {p: json.loads(p.read_text()) for p in sorted(proc.rglob('*.ipynb'))}
    renames = {p.relative_to(proc).as_posix(): (p.with_name(n + '.ipynb') if (n := _output_name(nb)) else p).relative_to(proc).as_posix()
               for p, nb in nbs.items()}

    def relink(m, here):  # a link between notebooks follows the target's rename (Quarto does this itself)
        target = (here / m.group(2)).resolve()
        try: key = target.relative_to(proc.resolve()).as_posix()
        except ValueError: return m.group(0)
        if key not in renames: return m.group(0)
        new = Path(os.path.relpath(proc.resolve() / renames[key], here)).as_posix()
        return m.group(1) + new + m.group(3)

    for nb_path, nb in nbs.items():
        rel = nb_path.relative_to(proc)
        up = '../' * (len(rel.parts) - 1)
        here = nb_path.parent.resolve()
        for c in nb['cells']:
            if isinstance(c['source'], list): c['source'] = ''.join(c['source'])
            c['source'] = c['source'].replace(doc_url, up)
            if c['cell_type'] == 'markdown': c['source'] = LINK.sub(lambda m: relink(m, here), c['source'])
            for o in c.get('outputs', []):
                for k, v in o.get('data', {}).items():
                    if isinstance(v, str): o['data'][k] = v.replace(doc_url, up)
                    elif isinstance(v, list): o['data'][k] = [s.replace(doc_url, up) for s in v]
        nb_path.write_text(json.dumps(nb))
        target = proc / renames[rel.as_posix()]
        if target != nb_path: nb_path.rename(target)
    renames = {k: v for k, v in renames.items() if k != v}
    # the sidebar names source notebooks (as Quarto wants); point it at the renamed ones
    qy = proc / '_quarto.yml'
    if qy.exists():
        txt = qy.read_text()
        for old, new in renames.items(): txt = re.sub(rf'(?<![\w/]){re.escape(old)}\b', new, txt)
        if output_dir is not None: txt = re.sub(r'^(\s*output-dir:\s*).*$', lambda m: m.group(1) + str(output_dir), txt, count=1, flags=re.M)
        qy.write_text(txt)


if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['--offline-site']:
        print(f'docs: removed {offline_site(Path(args[1]))} remote @import(s) from the site CSS')
    else:
        out = None
        if '--output-dir' in args:
            i = args.index('--output-dir'); out = args[i + 1]; del args[i:i + 2]
        fix_proc(Path(args[0] if args else '_proc'), *(args[1:2]), output_dir=out)
