"""Prepare nbdev-proc-nbs output (_proc/) for smalldocs, and make a rendered site independent of the network.

`python tools/fix_proc.py _proc [--output-dir DIR]`: smalldocs ignores Quarto's `output-file`. nbdev names each page
after its module (`api/00_config.ipynb` -> `output-file: config.html`) and links symbols to the absolute documentation
URL. Here each processed notebook is renamed to its `output-file`, and links to the documentation URL become relative,
so the site works from disk with no network. The sidebar in `_proc/_quarto.yml` follows the renames; `--output-dir`
sets where the site is written (default: the project's `output-dir`, `_docs/`). Tutorials (`tutorials/*.ipynb`) have no
`output-file` and keep their names; their links to API pages become `../api/...`.

`python tools/fix_proc.py --offline-site DIR` makes a rendered site work opened from disk (`file://`), offline:
- the Bootswatch theme's CSS imports its web font from Google Fonts. A page then asks the network for it (an error in
  the browser console when offline) although the browser's own fonts render it fine; the import is removed from every
  stylesheet of the rendered site in DIR.
- search: smalldocs.js `fetch()`es `search.json`, which a browser refuses for a `file://` page (a fetch of a local
  file counts as a cross-origin request), so the search box found nothing. The index is also written as `search.js`
  (a script that sets `window.smalldocsSearchIndex`; a `<script>` tag may load a local file) and the site's copy of
  smalldocs.js loads that script instead; `search.json` stays for other readers.
- maths: smalldocs links KaTeX from a CDN on pages with maths. The vendored copy (deepearth/assets/katex, made by
  tools/vendor_assets.sh) goes to `site_libs/katex/` and every page links it instead."""
import json, os, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KATEX = ROOT / 'deepearth' / 'assets' / 'katex'
KATEX_CDN = re.compile(r'https://cdn\.jsdelivr\.net/npm/katex@[\d.]+/dist/')
# smalldocs.js (0.5.x) loads the search index with fetch(), which a file:// page may not; a script tag may
FETCH_INDEX = ('const r = await fetch(offset + "search.json");\n'
               '      index = await r.json();')
SCRIPT_INDEX = ('index = window.smalldocsSearchIndex || await new Promise((ok, no) => {  // tools/fix_proc.py: file://\n'
                '        const s = document.createElement("script");\n'
                '        s.src = offset + "search.js";\n'
                '        s.onload = () => ok(window.smalldocsSearchIndex || []);\n'
                '        s.onerror = no;\n'
                '        document.head.appendChild(s);\n'
                '      });')


def search_from_disk(site: Path):
    "Write search.js beside search.json and make the site's smalldocs.js load it with a script tag."
    js, index = site / 'site_libs' / 'smalldocs.js', site / 'search.json'
    if not index.exists() or not js.exists(): return
    txt = js.read_text(encoding='utf-8')
    if FETCH_INDEX not in txt and SCRIPT_INDEX not in txt:
        sys.exit(f'docs: {js} no longer loads search.json as tools/fix_proc.py expects (smalldocs changed?); '
                 'update FETCH_INDEX in tools/fix_proc.py')
    js.write_text(txt.replace(FETCH_INDEX, SCRIPT_INDEX), encoding='utf-8')
    data = json.loads(index.read_text(encoding='utf-8'))
    # escape `</` so that no text of the index can end the script element
    body = json.dumps(data, ensure_ascii=False).replace('</', '<\\/')
    (site / 'search.js').write_text(f'window.smalldocsSearchIndex = {body};\n', encoding='utf-8')


def local_katex(site: Path) -> int:
    "Copy the vendored KaTeX into site_libs/katex and point every page's KaTeX links there; return pages changed."
    n = 0
    for page in site.rglob('*.html'):
        txt = page.read_text(encoding='utf-8')
        if not KATEX_CDN.search(txt): continue
        if not (KATEX / 'katex.min.js').exists():
            sys.exit(f'docs: {page} has maths but {KATEX} is missing; run tools/vendor_assets.sh')
        up = '../' * (len(page.relative_to(site).parts) - 1)
        page.write_text(KATEX_CDN.sub(up + 'site_libs/katex/', txt), encoding='utf-8'); n += 1
    if n:
        dest = site / 'site_libs' / 'katex'
        if dest.exists(): shutil.rmtree(dest)
        shutil.copytree(KATEX, dest, ignore=shutil.ignore_patterns('VERSION'))
    return n

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
        site = Path(args[1])
        print(f'docs: removed {offline_site(site)} remote @import(s) from the site CSS; '
              f'{local_katex(site)} page(s) with maths link the local KaTeX')
        search_from_disk(site)
    else:
        out = None
        if '--output-dir' in args:
            i = args.index('--output-dir'); out = args[i + 1]; del args[i:i + 2]
        fix_proc(Path(args[0] if args else '_proc'), *(args[1:2]), output_dir=out)
