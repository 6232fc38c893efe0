#!/usr/bin/env bash
# Re-create static/vendor/ from the npm packages pinned in package.json / package-lock.json.
#
# The portal must run offline, so the front-end files it needs are committed under
# static/vendor/; this script is their provenance. Run it from anywhere, with node and npm
# on PATH and the npm registry reachable:
#
#     scripts/vendor-static.sh
#
# It installs the exact locked versions into node_modules/ (gitignored; install scripts
# disabled), then copies only the files the portal loads, plus each package's licence:
#
#   leaflet 1.9.4 (BSD-2-Clause)         -> static/vendor/leaflet/{leaflet.js,leaflet.js.map,leaflet.css,images/}
#   jquery 3.7.1 (MIT)                   -> static/vendor/jquery/jquery.min.js
#   world-atlas 2.0.2 (ISC; Natural Earth data, public domain)
#                                        -> static/vendor/world-atlas/countries-110m.json
#   topojson-client 3.1.0 (ISC)          -> static/vendor/topojson-client/topojson-client.min.js
#
# To upgrade one, change its version in package.json, run `npm install --package-lock-only`,
# then this script, and commit package.json, package-lock.json and static/vendor/ together.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

npm ci --ignore-scripts --no-audit --no-fund

src=node_modules
dst=static/vendor
rm -rf "$dst"
mkdir -p "$dst"/{leaflet,jquery,world-atlas,topojson-client}

# leaflet.js ends with a sourceMappingURL: ship the map too, or Django's
# ManifestStaticFilesStorage refuses to collect leaflet.js (and devtools log a 404).
cp "$src/leaflet/dist/leaflet.js" "$src/leaflet/dist/leaflet.js.map" "$src/leaflet/dist/leaflet.css" "$dst/leaflet/"
cp -r "$src/leaflet/dist/images" "$dst/leaflet/images"
cp "$src/leaflet/LICENSE" "$dst/leaflet/LICENSE"

cp "$src/jquery/dist/jquery.min.js" "$dst/jquery/"
cp "$src/jquery/LICENSE.txt" "$dst/jquery/LICENSE.txt"

cp "$src/world-atlas/countries-110m.json" "$dst/world-atlas/"
cp "$src/world-atlas/LICENSE" "$dst/world-atlas/LICENSE"

cp "$src/topojson-client/dist/topojson-client.min.js" "$dst/topojson-client/"
cp "$src/topojson-client/LICENSE" "$dst/topojson-client/LICENSE"

# Record exactly what was copied, so a reviewer can check the files against the registry.
for pkg in leaflet jquery world-atlas topojson-client; do
    node -e 'const p=require(process.argv[1]); console.log(p.name + "@" + p.version)' \
        "$root/$src/$pkg/package.json"
done > "$dst/VERSIONS"
(cd "$dst" && find . -type f ! -name SHA256SUMS ! -name VERSIONS | LC_ALL=C sort | xargs sha256sum) > "$dst/SHA256SUMS"

echo "static/vendor re-created:"
cat "$dst/VERSIONS"
