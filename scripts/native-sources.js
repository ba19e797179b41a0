#!/usr/bin/env node
// Lists the native sources for binding.gyp, so it builds exactly what CMakeLists.txt globs.
'use strict';
const fs = require('fs');
const path = require('path');

function walk(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith('.cc'))
    .sort();
}
console.log([...walk('native/core'), ...walk('native/bindings')].join(' '));
