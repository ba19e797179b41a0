#!/usr/bin/env bash
# Builds the same native sources with node-gyp (binding.gyp) in a scratch copy, so build/ from
# cmake-js is left alone, then loads the result and evaluates a model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/binding.gyp" "$root/native" "$root/scripts" "$root/package.json" "$work/"
ln -s "$root/node_modules" "$work/node_modules"
if command -v ccache >/dev/null 2>&1; then export CXX="ccache g++" CC="ccache gcc" CCACHE_BASEDIR="$work"; fi
cd "$work"
"$root/node_modules/.bin/node-gyp" rebuild -j "$(nproc)" --nodedir="${npm_config_nodedir:-/usr}" >"$work/gyp.log" 2>&1 || {
  tail -40 "$work/gyp.log"
  echo "node-gyp build failed"
  exit 1
}
node -e "
const addon = require('$work/build/Release/ebm_torch.node');
const v = addon.version();
const m = addon.createModel(JSON.stringify({ kind: 'mlp', inputDim: 2, hidden: [8], device: 'cpu' }));
m.energy({ data: new Float32Array([0, 1, 2, 3]), shape: [2, 2] }).then((e) => {
  if (e.length !== 2 || !e.every(Number.isFinite)) throw new Error('bad energies from the node-gyp build');
  console.log('node-gyp build OK: LibTorch ' + v.torch + ', energies ' + Array.from(e).map((x) => x.toFixed(4)).join(' '));
});
"
