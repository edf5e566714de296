#!/usr/bin/env bash
# Packs the package as npm would publish it, then lints the tarball: publint (package.json
# fields, files, exports) and Are the Types Wrong (types for node10, node16 CJS/ESM, bundler).
# Expects a fresh `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tarball="$(npm pack --silent --pack-destination "$tmp" | tail -n 1)"
npx --no-install publint run --strict "$tmp/$tarball"
npx --no-install attw --no-emoji --no-color "$tmp/$tarball"
# No file may point at a source map: none are shipped.
mkdir "$tmp/unpacked"
tar -xzf "$tmp/$tarball" -C "$tmp/unpacked"
if grep -rl 'sourceMappingURL' "$tmp/unpacked/package/dist"; then
  echo "check-package: the files above reference source maps that are not in the package" >&2
  exit 1
fi
echo "check-package: no source map references"
