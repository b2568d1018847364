#!/usr/bin/env bash
# Re-create deepearth/assets/ (package data; committed): the static files that let a DeepEarth map open with no
# network. For maintainers: run it from the repository root with npm on PATH and the dev venv installed, review the
# diff, commit. Nothing at run time downloads anything.
#
#   leaflet/   Leaflet 1.9.4 (npm `leaflet`, BSD-2-Clause, (c) Vladimir Agafonkin, CloudMade): dist/leaflet.js,
#              dist/leaflet.css, dist/images/*.png and LICENSE. deepearth.maps inlines the JS and CSS (images as data:
#              URIs) into each map's HTML.
#   jquery/    jQuery 3.7.1 (npm `jquery`, MIT, (c) OpenJS Foundation): dist/jquery.min.js and LICENSE.txt. Inlined
#              only into maps holding folium elements whose templates call `$(...)` (folium.Popup).
#   folium's other CDN assets (Bootstrap, Leaflet.awesome-markers, Font Awesome, glyphicons) are not used by
#   deepearth.maps; they are dropped from its maps, not vendored.
#   katex/     KaTeX 0.16.11 (npm `katex`, MIT, (c) Khan Academy and contributors): dist/katex.min.js,
#              dist/contrib/auto-render.min.js, dist/katex.min.css and the WOFF2 fonts, with LICENSE. Not used by the
#              package at run time: tools/fix_proc.py copies it into the docs site so its maths renders from disk
#              (smalldocs would link a CDN). The CSS is rewritten to name only the WOFF2 fonts (every browser that
#              runs KaTeX reads WOFF2), which keeps the copy at about 600 KB.
#   naturalearth_110m_countries.geojson
#              Natural Earth 1:110m country polygons (public domain, naturalearthdata.com), converted from the bundled
#              data/naturalearth/naturalearth_lowres shapefile: properties name, iso_a3, continent; coordinates
#              rounded to 0.01 degree (the 1:110m source is coarser than that).
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFLET_VERSION=1.9.4
JQUERY_VERSION=3.7.1
KATEX_VERSION=0.16.11  # the version smalldocs links; its auto-render options are the ones smalldocs.js passes
dest=deepearth/assets
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Leaflet from the npm registry
( cd "$tmp" && npm pack --silent "leaflet@${LEAFLET_VERSION}" >/dev/null && tar xzf "leaflet-${LEAFLET_VERSION}.tgz" )
rm -rf "$dest/leaflet"; mkdir -p "$dest/leaflet/images"
cp "$tmp/package/dist/leaflet.css" "$tmp/package/LICENSE" "$dest/leaflet/"
# the source-map comment would make a browser's developer tools look for a file we do not ship
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/dist/leaflet.js" > "$dest/leaflet/leaflet.js"
cp "$tmp/package/dist/images/"*.png "$dest/leaflet/images/"
echo "$LEAFLET_VERSION" > "$dest/leaflet/VERSION"

# jQuery from the npm registry
( cd "$tmp" && mkdir jq && npm pack --silent "jquery@${JQUERY_VERSION}" >/dev/null && tar xzf "jquery-${JQUERY_VERSION}.tgz" -C jq )
rm -rf "$dest/jquery"; mkdir -p "$dest/jquery"
sed '/^\/\/# sourceMappingURL=/d' "$tmp/jq/package/dist/jquery.min.js" > "$dest/jquery/jquery.min.js"
cp "$tmp/jq/package/LICENSE.txt" "$dest/jquery/"
echo "$JQUERY_VERSION" > "$dest/jquery/VERSION"

# KaTeX from the npm registry (for the docs site)
( cd "$tmp" && mkdir kx && npm pack --silent "katex@${KATEX_VERSION}" >/dev/null && tar xzf "katex-${KATEX_VERSION}.tgz" -C kx )
rm -rf "$dest/katex"; mkdir -p "$dest/katex/contrib" "$dest/katex/fonts"
cp "$tmp/kx/package/dist/katex.min.js" "$tmp/kx/package/LICENSE" "$dest/katex/"
cp "$tmp/kx/package/dist/contrib/auto-render.min.js" "$dest/katex/contrib/"
cp "$tmp/kx/package/dist/fonts/"*.woff2 "$dest/katex/fonts/"
# each @font-face lists woff2, woff and ttf; keep the woff2 source only
sed -E 's/,url\(fonts\/[^)]*\.woff\) format\("woff"\),url\(fonts\/[^)]*\.ttf\) format\("truetype"\)//g' \
  "$tmp/kx/package/dist/katex.min.css" > "$dest/katex/katex.min.css"
if grep -qE '\.(woff|ttf)\)' "$dest/katex/katex.min.css"; then echo "katex.min.css still names woff/ttf fonts" >&2; exit 1; fi
echo "$KATEX_VERSION" > "$dest/katex/VERSION"

# Natural Earth country outlines as compact GeoJSON
.venv/bin/python - "$dest/naturalearth_110m_countries.geojson" <<'EOF'
import json, sys
import numpy as np, pyogrio, shapely
df = pyogrio.read_dataframe('data/naturalearth/naturalearth_lowres/naturalearth_lowres.shp')
geoms = shapely.transform(df.geometry.values, lambda c: np.round(c, 2))
feats = [{'type': 'Feature', 'properties': {'name': n, 'iso_a3': i, 'continent': c},
          'geometry': json.loads(shapely.to_geojson(g))}
         for n, i, c, g in zip(df['name'], df['iso_a3'], df['continent'], geoms)]
with open(sys.argv[1], 'w') as f:
    json.dump({'type': 'FeatureCollection', 'features': feats}, f, separators=(',', ':'))
EOF
ls -l "$dest" "$dest/leaflet" "$dest/leaflet/images" "$dest/jquery" "$dest/katex"
