#!/usr/bin/env node
// Finds LibTorch for binding.gyp (CMakeLists.txt follows the same order with find_package):
// LIBTORCH, Torch_DIR, a Python torch install, then the system (Debian libtorch-dev).
// Usage: node scripts/libtorch.js include|libdir|libs|defines|describe
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function fromPrefix(prefix, source, abi) {
  return {
    source,
    includeDirs: [path.join(prefix, 'include'), path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include')],
    libDir: path.join(prefix, 'lib'),
    abi,
  };
}

function pythonTorch() {
  const python = process.env.EBM_PYTHON || 'python3';
  try {
    const out = execFileSync(
      python,
      ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim()
      .split('\n');
    return fromPrefix(out[0], `python torch (${python})`, out[1] === '1' ? 1 : 0);
  } catch {
    return null;
  }
}

function systemTorch() {
  const include = '/usr/include/torch/csrc/api/include';
  if (!fs.existsSync(include)) return null;
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libDir = libDirs.find((d) => fs.existsSync(path.join(d, 'libtorch.so')));
  if (!libDir) return null;
  // /usr/include is already on the compiler's path; naming it again breaks #include_next.
  return { source: 'system', includeDirs: [include], libDir, abi: 1 };
}

function find() {
  if (process.env.LIBTORCH) return fromPrefix(process.env.LIBTORCH, 'LIBTORCH', 1);
  if (process.env.Torch_DIR) return fromPrefix(path.resolve(process.env.Torch_DIR, '..', '..', '..'), 'Torch_DIR', 1);
  return pythonTorch() || systemTorch();
}

const torch = find();
if (!torch) {
  console.error(
    'LibTorch was not found. Install it (Debian/Ubuntu: sudo apt-get install -y libtorch-dev), ' +
      'or set LIBTORCH=/path/to/libtorch, or Torch_DIR=/path/to/share/cmake/Torch, or install PyTorch for python3.',
  );
  process.exit(1);
}
const libs = ['torch', 'torch_cpu', 'c10', 'torch_cuda', 'c10_cuda'].filter((l) =>
  fs.existsSync(path.join(torch.libDir, `lib${l}.so`)),
);
// Data-parallel training (c10d + Gloo), as CMakeLists.txt decides it.
function distributedDefines() {
  const dirs = [...torch.includeDirs, '/usr/include'];
  const has = (rel) => dirs.some((d) => fs.existsSync(path.join(d, rel)));
  return has('torch/csrc/distributed/c10d/ProcessGroupGloo.hpp') && has('gloo/config.h')
    ? ['EBM_TORCH_DISTRIBUTED', 'USE_C10D_GLOO']
    : [];
}
const what = process.argv[2];
if (what === 'include') console.log(torch.includeDirs.join(' '));
else if (what === 'libdir') console.log(torch.libDir);
else if (what === 'libs') console.log([`-L${torch.libDir}`, ...libs.map((l) => `-l${l}`)].join(' '));
else if (what === 'defines') console.log([`_GLIBCXX_USE_CXX11_ABI=${torch.abi}`, ...distributedDefines()].join(' '));
else console.log(JSON.stringify({ ...torch, libs }, null, 2));
