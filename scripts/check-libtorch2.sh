#!/usr/bin/env bash
# Builds the addon and runs the test suite against LibTorch 2.x: Debian 13's libtorch-dev (2.6) in a
# Debian 13 root made with debootstrap and entered with chroot, with that release's g++, Node,
# libgloo-dev and nlohmann-json. The root is made once and cached (EBM_TRIXIE_ROOT, default
# /var/cache/ebm-torch/trixie-root); the checkout is copied into it for each run, so the host's
# build/ and node_modules stay untouched.
#   bash scripts/check-libtorch2.sh            set up (first time), build, run the whole suite
#   bash scripts/check-libtorch2.sh --root     make the root only
#   bash scripts/check-libtorch2.sh --build    set up and build only
#   bash scripts/check-libtorch2.sh -- ARGS    pass ARGS to mocha (e.g. -- dist/test/model.test.js)
# Needs root and Debian's package registry (debootstrap is installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { echo "[libtorch2] $*"; }
die() {
  echo "[libtorch2] ERROR: $*" >&2
  exit 1
}

root=${EBM_TRIXIE_ROOT:-/var/cache/ebm-torch/trixie-root}
mirror=${EBM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
build_only=""
root_only=""
mocha_args=()
while [ $# -gt 0 ]; do
  case "$1" in
  --build) build_only=1 ;;
  --root) root_only=1 ;;
  --)
    shift
    mocha_args=("$@")
    break
    ;;
  *) die "unknown argument '$1' (usage: check-libtorch2.sh [--root | --build] [-- mocha arguments])" ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || die "run as root: debootstrap and chroot need it"

# What the build and the suite need inside the root: the same list scripts/setup.sh installs on
# the host, in Debian 13's versions.
packages=(libtorch-dev libgloo-dev nlohmann-json3-dev libopenblas0-pthread cmake g++ make ccache nodejs npm libnode-dev
  python3 python3-torch git ca-certificates dataset-fashion-mnist)

start=$(date +%s)
if [ ! -f "$root/.ebm-ready" ]; then
  if ! command -v debootstrap >/dev/null; then
    log "apt-get install debootstrap"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    log "debootstrap trixie into $root (a few minutes, once)"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
      die "debootstrap failed (log: $root.debootstrap.log)"
  fi
fi

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_in() {
  mkdir -p "$root$2"
  mount "${@:3}" "$1" "$root$2"
  mounted+=("$root$2")
}
mount_in proc /proc -t proc
mount_in /dev /dev --bind
mount_in /dev/pts /dev/pts --bind
mount_in tmpfs /dev/shm -t tmpfs
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 "$@"; }

missing=()
for p in "${packages[@]}"; do
  in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]} (in the root)"
  in_root apt-get update -qq >/dev/null
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" \
    >"$root.apt.log" 2>&1 || die "apt-get in the root failed (log: $root.apt.log)"
  touch "$root/.ebm-ready"
fi
log "root ready ($(($(date +%s) - start)) s): $(in_root dpkg-query -W -f='libtorch-dev ${Version}' libtorch-dev), \
g++ $(in_root g++ -dumpversion), node $(in_root node --version)"
[ -n "$root_only" ] && exit 0

# The checkout as git sees it (tracked and untracked, not ignored), plus the npm cache the host
# already filled, so npm ci needs nothing the host did not fetch.
work=/ebm-torch
rm -rf "${root:?}$work"
mkdir -p "$root$work"
(git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -P {} "$root$work/") 2>/dev/null ||
  die "copying the checkout failed"
mkdir -p "$root/root/.npm"
[ -d "$HOME/.npm/_cacache" ] && cp -r "$HOME/.npm/_cacache" "$root/root/.npm/" 2>/dev/null || true

log "building in the root"
build_start=$(date +%s)
in_root bash -c "cd $work && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts >/tmp/npm-ci.log 2>&1 || \
  { cat /tmp/npm-ci.log; exit 1; }
  export CCACHE_DIR=/root/.ccache npm_config_nodedir=/usr
  node scripts/build-native.js && npx --no-install tsc -p tsconfig.json" ||
  die "the build failed in the root (see above; $root$work/build-native.log)"
build_seconds=$(($(date +%s) - build_start))
version=$(in_root bash -c "cd $work && node -p \"require('./dist/lib').version().torch\"")
log "built against LibTorch $version in ${build_seconds} s"
[ -n "$build_only" ] && exit 0

log "running the suite in the root"
set +e
in_root bash -c "cd $work && npx --no-install mocha ${mocha_args[*]:-}" | tee "$root.mocha.log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^\s+[0-9]+ (passing|failing|pending)' "$root.mocha.log" | tr -s ' ' | paste -sd, -)
log "LibTorch $version: ${summary:-no summary} (build ${build_seconds} s, all $(($(date +%s) - start)) s)"
exit "$status"
