#!/usr/bin/env node
// Builds the native addon with cmake-js and keeps the installer informed: the full compiler output
// goes to build-native.log, the terminal gets one line per build step ("compiling the native
// addon, 3/9 steps, 1:05"). Used by scripts/setup.sh, scripts/install.js and `npm run build:native`.
// Exit status: cmake-js's; on failure the log's tail is printed.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const logFile = path.join(root, 'build-native.log');
const say = (line) => process.stderr.write(`ebm-torch: ${line}\n`);
const log = fs.createWriteStream(logFile);
log.on('error', (err) => {
  say(`cannot write ${logFile}: ${err.message}`);
  process.exit(1);
});
const started = Date.now();

// ccache hits stay independent of where the checkout lives (CI clones anew); the precompiled
// LibTorch header is safe to reuse across compiles of the same target (CMakeLists.txt).
const env = { ...process.env, CCACHE_BASEDIR: process.env.CCACHE_BASEDIR ?? root };

function elapsed() {
  const s = Math.round((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

say('compiling the native addon against LibTorch (a fresh build takes a few minutes; ccache makes rebuilds fast)');

try {
  require.resolve('cmake-js/package.json', { paths: [root] });
} catch {
  say('cmake-js is not installed (it is a dependency of ebm-torch: run npm install)');
  process.exit(1);
}
// Through npx, so npm's configuration reaches cmake-js (nodedir: build against the installed Node
// headers instead of downloading them).
// Extra arguments go to cmake-js (e.g. --CDEBM_UNITY_BUILD=OFF for quicker incremental builds).
const child = spawn('npx', ['--no-install', 'cmake-js', 'compile', '--out', 'build', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
  shell: process.platform === 'win32',
});

// Ninja prints "[12/48] Building CXX object ..."; make prints "[ 25%] Building CXX object ...".
const ninja = /^\[(\d+)\/(\d+)\] (Building|Linking)/;
const make = /^\[\s*(\d+)%\] (Building|Linking)/;
let pending = '';
let last = '';
function onText(text) {
  log.write(text);
  pending += text;
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) {
    let m = ninja.exec(line);
    let progress;
    if (m) progress = m[3] === 'Linking' ? 'linking' : `${m[1]}/${m[2]} steps`;
    else if ((m = make.exec(line))) progress = m[2] === 'Linking' ? 'linking' : `${m[1]}%`;
    if (progress && progress !== last) {
      last = progress;
      say(`compiling the native addon, ${progress}, ${elapsed()}`);
    }
  }
}
child.stdout.on('data', (d) => onText(d.toString()));
child.stderr.on('data', (d) => onText(d.toString()));
child.on('error', (err) => {
  say(`could not start cmake-js: ${err.message}`);
  process.exitCode = 1;
});
child.on('close', (code) => {
  log.end(() => {
    if (code === 0) {
      say(`native addon built in ${elapsed()} (full log: build-native.log)`);
      return;
    }
    const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
    process.stderr.write(`${tail}\n`);
    say(`the native build failed (full log: ${logFile})`);
    process.exitCode = code ?? 1;
  });
});
