#!/usr/bin/env bash
# Idempotent set-up: installs what is missing, then builds. Safe to run again; fast when
# everything is in place.
#   - system tools (cmake, g++), LibTorch (Debian libtorch-dev) when no LibTorch is found
#   - test/benchmark extras on Debian: python3-torch (reference numbers), dataset-fashion-mnist,
#     ccache (fast rebuilds), clang-format (lint)
#   - npm dependencies, the native addon (cmake-js), the TypeScript output
# Set EBM_SETUP_NO_APT=1 to never call apt-get. LibTorch from elsewhere: LIBTORCH, Torch_DIR,
# or a Python torch install (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*"; }
die() {
  echo "[setup] ERROR: $*" >&2
  exit 1
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${EBM_SETUP_NO_APT:-}" ]; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- toolchain -----------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js >= 20 is required (https://nodejs.org or your package manager)."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)."
if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
  if can_apt; then
    apt_install cmake g++ make
  else
    die "cmake, g++ and make are required. Debian/Ubuntu: sudo apt-get install -y cmake g++ make"
  fi
fi
# nlohmann-json: the JSON of checkpoint metadata and of the configs that cross from TypeScript.
if [ ! -f /usr/include/nlohmann/json.hpp ] && [ ! -f /usr/local/include/nlohmann/json.hpp ]; then
  if can_apt; then
    apt_install nlohmann-json3-dev
  else
    die "nlohmann-json (>= 3.11) is required. Debian/Ubuntu: sudo apt-get install -y nlohmann-json3-dev"
  fi
fi

# --- LibTorch ------------------------------------------------------------------------------
# A Python torch counts only when it ships the CMake package (pip wheels do; Debian's
# python3-torch does not, so with it the build uses the system LibTorch), as in CMakeLists.txt.
python_torch_cmake() {
  ${EBM_PYTHON:-python3} -c 'import os, torch; p = torch.utils.cmake_prefix_path
print(p if os.path.isfile(os.path.join(p, "Torch", "TorchConfig.cmake")) else "")' 2>/dev/null || true
}
if [ -n "${LIBTORCH:-}" ]; then
  [ -d "$LIBTORCH/share/cmake/Torch" ] || die "LIBTORCH=$LIBTORCH has no share/cmake/Torch: point it at the unpacked LibTorch folder."
  log "LibTorch from LIBTORCH=$LIBTORCH"
elif [ -n "${Torch_DIR:-}" ]; then
  [ -f "$Torch_DIR/TorchConfig.cmake" ] || die "Torch_DIR=$Torch_DIR has no TorchConfig.cmake."
  log "LibTorch from Torch_DIR=$Torch_DIR"
elif py_torch=$(python_torch_cmake) && [ -n "$py_torch" ]; then
  log "LibTorch from the Python torch of ${EBM_PYTHON:-python3} ($py_torch)"
elif compgen -G "/usr/lib/*/cmake/Torch/TorchConfig.cmake" >/dev/null || [ -f /usr/share/cmake/Torch/TorchConfig.cmake ]; then
  log "LibTorch from the system"
elif can_apt; then
  apt_install libtorch-dev
else
  die "LibTorch was not found. Install it with 'sudo apt-get install -y libtorch-dev' (Debian/Ubuntu), or set
  LIBTORCH=/path/to/libtorch (an unpacked LibTorch archive, CPU or CUDA), or Torch_DIR=/path/to/share/cmake/Torch,
  or install PyTorch for python3 (EBM_PYTHON picks the interpreter). Then run this script again."
fi

# Extras for the test suite, benchmarks and lint; optional elsewhere. Debian's LibTorch links the
# generic libblas.so.3, which defaults to the reference BLAS; OpenBLAS registers itself as that
# alternative and makes the CPU GEMMs several times faster (ED step on 8 gaussians: 17 -> 127 steps/s).
# libgloo-dev: Gloo's headers, so the addon builds with data-parallel training (train.distributed).
# libjemalloc2: the bench runs the Python reference with jemalloc preloaded too (the fair baseline).
if can_apt; then
  apt_install ccache clang-format python3-torch dataset-fashion-mnist libopenblas0-pthread libgloo-dev libjemalloc2
fi

# --- npm dependencies ----------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi

# --- build ---------------------------------------------------------------------------------
log "building the native addon (cmake-js)"
# One progress line per build step; the compiler's output goes to build-native.log.
node scripts/build-native.js || die "the native build failed (full log: build-native.log)"
log "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
node -e "const e = require('./dist/lib'); const v = e.version(); console.log('[setup] ready: ebm-torch ' + v.ebmTorch + ', LibTorch ' + v.torch + ', device ' + v.device)"
