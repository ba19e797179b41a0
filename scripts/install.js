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

// build-native.js prints a line per build step (npm shows them with --foreground-scripts).
const result = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'ebm-torch: building the native addon failed. It needs LibTorch and nlohmann-json: on Debian/Ubuntu ' +
      '`sudo apt-get install -y libtorch-dev libopenblas0-pthread nlohmann-json3-dev`; elsewhere set LIBTORCH=/path/to/libtorch ' +
      '(or Torch_DIR, or install PyTorch for python3), then run `npm rebuild ebm-torch`.',
  );
  process.exit(1);
}
