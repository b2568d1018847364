#!/usr/bin/env bash
# Build the docs site into _docs/ offline. With Quarto on PATH: nbdev-docs. Without it (this machine: no Quarto binary
# on any reachable registry): nbdev-proc-nbs renders show_doc signatures into _proc/, then the pure-Python smalldocs
# renders that same _quarto.yml project.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v quarto >/dev/null 2>&1; then
  nbdev-docs
else
  rm -rf _proc _docs
  # nbdev-proc-nbs offers to install Quarto (it cannot here) and goes on without it
  log=$(mktemp); nbdev-proc-nbs >"$log" 2>&1 || { cat "$log"; exit 1; }
  python tools/fix_proc.py _proc
  smalldocs render _proc
  # smalldocs writes to _quarto.yml's output-dir relative to _proc; make sure the site lands in _docs/
  if [ ! -f _docs/index.html ]; then
    echo "docs build failed: _docs/index.html was not written" >&2; exit 1
  fi
fi
echo "docs: $(find _docs -name '*.html' | wc -l) HTML pages in _docs/"
