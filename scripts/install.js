#!/usr/bin/env node
// npm's install step. Inside this repository scripts/setup.sh builds the addon (after installing
// LibTorch when needed), so this does nothing here; without an install script npm would run
// node-gyp on its own. Installed as a dependency (under node_modules), it builds with cmake-js
// and says what to install when LibTorch is missing.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
if (!root.split(path.sep).includes('node_modules')) process.exit(0);

console.log(
  'ebm-torch: compiling the native addon against LibTorch with cmake-js (about 5-15 minutes on 2 cores; ' +
    'ccache makes rebuilds fast)...',
);
const result = spawnSync('npx', ['--no-install', 'cmake-js', 'compile', '--out', 'build'], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (result.status !== 0) {
  console.error(
    'ebm-torch: building the native addon failed. It needs LibTorch and nlohmann-json: on Debian/Ubuntu ' +
      '`sudo apt-get install -y libtorch-dev libopenblas0-pthread nlohmann-json3-dev`; elsewhere set LIBTORCH=/path/to/libtorch ' +
      '(or Torch_DIR, or install PyTorch for python3), then run `npm rebuild ebm-torch`.',
  );
  process.exit(1);
}
