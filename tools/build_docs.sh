#!/usr/bin/env bash
# Build the docs site offline: `tools/build_docs.sh [OUT]` writes it to OUT (default _docs/; the browser test passes a
# temporary folder). With Quarto on PATH: nbdev-proc-nbs + quarto render. Without it (this machine: no Quarto binary
# on any reachable registry): nbdev-proc-nbs renders show_doc signatures into _proc/, then the pure-Python smalldocs
# renders that same _quarto.yml project. Either way the site links nothing online that it needs to render.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-_docs}
case "$out" in /*) ;; *) out="$root/$out" ;; esac
if [ "$out" != "$root/_docs" ] && [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "docs: $out exists and is not empty; give a new or empty folder" >&2; exit 2
fi
rm -rf _proc
if [ "$out" = "$root/_docs" ]; then rm -rf _docs; fi
# nbdev-proc-nbs offers to install Quarto when it is missing (it cannot here) and goes on without it
log=$(mktemp); nbdev-proc-nbs >"$log" 2>&1 || { cat "$log"; exit 1; }
if command -v quarto >/dev/null 2>&1; then
  quarto render _proc --output-dir "$out"
else
  python tools/fix_proc.py _proc --output-dir "$out"
  smalldocs render _proc
fi
if [ ! -f "$out/index.html" ]; then
  echo "docs build failed: $out/index.html was not written" >&2; exit 1
fi
python tools/fix_proc.py --offline-site "$out"
# the index (README) shows the committed example run: its pictures, and the dashboard and map they link to
if [ -d reports/example ]; then mkdir -p "$out/reports"; rm -rf "$out/reports/example"; cp -r reports/example "$out/reports/"; fi
echo "docs: $(find "$out" -name '*.html' | wc -l) HTML pages in $out/"
