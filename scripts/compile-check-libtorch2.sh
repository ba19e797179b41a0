#!/usr/bin/env bash
# Compiles every native unit (g++ -fsyntax-only, the addon's definitions, Gloo on) against Debian
# 13's LibTorch 2.6 headers, unpacked from the packages and never installed, so that a change that
# breaks the 2.x API fails here on a Debian 12 machine. The host's own LibTorch and Gloo headers
# (1.13 in /usr/include) are kept out of the search path: a header that 2.6 lacks is an error, not
# a silent fall-back to the old one. The NCCL process group (USE_C10D_NCCL) is compiled too when a
# full CUDA toolkit (CUDA_HOME, default /usr/local/cuda: cuBLAS, cuSPARSE and cuSOLVER headers
# beside the runtime's) and an nccl.h (EBM_NCCL_INCLUDE, or the toolkit's) are there; otherwise it
# says which headers are missing and skips that unit.
#   bash scripts/compile-check-libtorch2.sh [unit.cc ...]
# The packages are cached in ${EBM_CACHE_DIR:-~/.cache/ebm-torch}/libtorch2-headers.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[libtorch2-headers] $*"; }
die() {
  echo "[libtorch2-headers] ERROR: $*" >&2
  exit 1
}

cache=${EBM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ebm-torch}/libtorch2-headers
mirror=${EBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
packages=(libtorch-dev libgloo-dev)
start=$(date +%s)

# --- the packages, through apt with a state of its own (the host's apt is not touched) --------
if [ ! -f "$cache/.ready" ]; then
  [ -f "$keyring" ] || die "$keyring is missing (Debian's debian-archive-keyring package)"
  rm -rf "$cache"
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/debs" "$cache/root"
  echo "deb [signed-by=$keyring] $mirror trixie main" >"$cache/apt/sources.list"
  : >"$cache/apt/status"
  apt_opts=(-o "Dir::Etc::SourceList=$cache/apt/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::State::status=$cache/apt/status"
    -o "Dir::Cache=$cache/apt" -o "Dir::Cache::Archives=$cache/apt/archives" -o "APT::Architecture=amd64")
  log "fetching Debian 13's package index"
  apt-get "${apt_opts[@]}" update -qq >"$cache/apt.log" 2>&1 || die "apt-get update failed (log: $cache/apt.log)"
  log "downloading ${packages[*]} (trixie)"
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}" >>"$cache/apt.log" 2>&1) ||
    die "apt-get download failed (log: $cache/apt.log)"
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
  touch "$cache/.ready"
fi
inc=$cache/root/usr/include
[ -f "$inc/torch/csrc/api/include/torch/version.h" ] || die "no LibTorch headers in $inc (remove $cache and retry)"
version_part() { sed -n "s/^#define TORCH_VERSION_$1 \([0-9]*\)/\1/p" "$inc/torch/csrc/api/include/torch/version.h"; }
torch_version=$(version_part MAJOR).$(version_part MINOR).$(version_part PATCH)

# --- the system's include path without the host's LibTorch and Gloo ----------------------------
# /usr/include is mirrored by links, leaving out what the unpacked packages provide.
host_inc=$cache/host-include
rm -rf "$host_inc"
mkdir -p "$host_inc"
for entry in /usr/include/*; do
  case "$(basename "$entry")" in ATen | c10 | caffe2 | torch | gloo) continue ;; esac
  ln -s "$entry" "$host_inc/$(basename "$entry")"
done
system_dirs=()
while IFS= read -r dir; do
  dir=$(realpath -m "$dir")
  if [ "$dir" = /usr/include ]; then system_dirs+=(-isystem "$host_inc"); else system_dirs+=(-isystem "$dir"); fi
done < <(echo | g++ -std=c++17 -xc++ -E -v - 2>&1 | sed -n '/#include <...> search starts here:/,/End of search list./p' |
  sed '1d;$d' | sed 's/^ *//')

napi_dir=$(node -p "require('node-addon-api').include_dir" 2>/dev/null) ||
  die "node-addon-api is not installed (npm ci first)"
node_inc=${npm_config_nodedir:-/usr}/include/node
[ -f "$node_inc/node_api.h" ] || die "no Node headers in $node_inc"

common=(-std=c++17 -fsyntax-only -fopenmp -nostdinc -nostdinc++ -Wall -Wno-unused-parameter
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DEBM_TORCH_DISTRIBUTED -DUSE_C10D_GLOO
  -isystem "$inc" -isystem "$inc/torch/csrc/api/include" "${system_dirs[@]}"
  -I native/core -I "$napi_dir" -I "$node_inc")

if [ $# -gt 0 ]; then units=("$@"); else read -r -a units <<<"$(node scripts/native-sources.js)"; fi

# torch/torch.h precompiled once, as the build does (CMakeLists.txt: every unit but
# fused_activation.cc, which includes no LibTorch): a unit then takes seconds, not twenty.
pch_dir=$cache/pch
rm -rf "$pch_dir"
mkdir -p "$pch_dir"
echo '#include <torch/torch.h>' >"$pch_dir/torch_all.h"
pch_flags=()
for flag in "${common[@]}"; do [ "$flag" = -fsyntax-only ] || pch_flags+=("$flag"); done
g++ "${pch_flags[@]}" -x c++-header "$pch_dir/torch_all.h" -o "$pch_dir/torch_all.h.gch" 2>"$pch_dir/pch.log" || {
  grep -E 'error' "$pch_dir/pch.log" | head -20
  die "torch/torch.h of LibTorch $torch_version does not compile"
}

# --- every unit, two at a time --------------------------------------------------------------
log "LibTorch $torch_version headers: compiling ${#units[@]} units"
failed=0
errors=$(mktemp -d)
trap 'rm -rf "$errors"' EXIT
compile_one() {
  local unit=$1
  local out="$errors/$(echo "$unit" | tr / _).log"
  local pch=(-include "$pch_dir/torch_all.h" -Winvalid-pch)
  [ "$(basename "$unit")" = fused_activation.cc ] && pch=()
  if g++ "${common[@]}" "${pch[@]}" "$unit" >"$out" 2>&1; then rm -f "$out"; else echo "FAILED $unit"; fi
}
jobs_running=0
for unit in "${units[@]}"; do
  compile_one "$unit" &
  jobs_running=$((jobs_running + 1))
  if [ "$jobs_running" -ge "$(nproc)" ]; then
    wait -n || true
    jobs_running=$((jobs_running - 1))
  fi
done
wait
for f in "$errors"/*.log; do
  [ -e "$f" ] || continue
  failed=$((failed + 1))
  echo "--- $(basename "$f" .log)"
  grep -E 'error|Error' "$f" | head -20
done

# --- the NCCL process group, with the CUDA toolkit's headers ------------------------------------
cuda_inc=${CUDA_HOME:-/usr/local/cuda}/include
nccl_inc=${EBM_NCCL_INCLUDE:-}
[ -z "$nccl_inc" ] && [ -f "$cuda_inc/nccl.h" ] && nccl_inc=$cuda_inc
# LibTorch's CUDA context header wants the CUDA libraries' headers too (cuBLAS, cuSPARSE, ...),
# which an nvcc-only toolkit lacks.
missing=()
for h in cuda_runtime_api.h cublas_v2.h cusparse.h cusolverDn.h; do [ -f "$cuda_inc/$h" ] || missing+=("$h"); done
[ -n "$nccl_inc" ] || missing+=(nccl.h)
if [ ${#missing[@]} -eq 0 ]; then
  if g++ "${common[@]}" -DUSE_C10D_NCCL -DUSE_CUDA -isystem "$cuda_inc" -isystem "$nccl_inc" \
    native/core/distributed/communicator.cc >"$errors/nccl.log" 2>&1; then
    log "NCCL process group: compiles (CUDA headers $cuda_inc, nccl.h from $nccl_inc)"
  else
    failed=$((failed + 1))
    echo "--- communicator.cc with USE_C10D_NCCL"
    grep -E 'error' "$errors/nccl.log" | head -20
  fi
else
  log "NCCL process group: skipped, missing ${missing[*]} (CUDA_HOME: a full CUDA toolkit; EBM_NCCL_INCLUDE: the folder with nccl.h, e.g. Debian 13's libnccl-dev)"
fi

elapsed=$(($(date +%s) - start))
if [ "$failed" -gt 0 ]; then
  log "LibTorch $torch_version: $failed of ${#units[@]} units FAILED to compile (${elapsed} s)"
  exit 1
fi
log "LibTorch $torch_version: all ${#units[@]} units compile (${elapsed} s)"
