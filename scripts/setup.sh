#!/usr/bin/env bash
# Prepares this clone to run: Debian packages (as root), npm dependencies, the mediasoup worker,
# and optionally Chromium for browser tests. Idempotent and quiet when there is nothing to do.
#   scripts/setup.sh            runtime (npm start)
#   scripts/setup.sh --test     also Chromium (npm test)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WITH_BROWSER=0
[ "${1:-}" = "--test" ] && WITH_BROWSER=1

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

MS_VERSION=$(node -p "require('./package-lock.json').packages['node_modules/mediasoup'].version")
CACHE_DIR=${CARECALL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/carecall}
ARCH=$(uname -m)
CACHED_WORKER="$CACHE_DIR/mediasoup-worker-$MS_VERSION-linux-$ARCH"
WORKER_DEST="$ROOT/node_modules/mediasoup/worker/out/Release/mediasoup-worker"

# fonts-dejavu-core: the TrueType fonts embedded in PDF summaries (RECORDS_PDF_FONT_DIR).
RUNTIME_DEBS="libssl3 libuv1 libsrtp2-1 libusrsctp2 libabsl20220623 fonts-dejavu-core"
BUILD_DEBS="g++ pkg-config ninja-build meson libssl-dev libuv1-dev libsrtp2-dev libabsl-dev nlohmann-json3-dev libusrsctp-dev"
# poppler-utils (pdfsig) and libnss3-tools (certutil) verify signed PDFs in the record tests.
BROWSER_DEBS="chromium iptables coturn poppler-utils libnss3-tools"

missing_debs() {
  local out=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
  done
  echo "$out"
}

ensure_debs() {
  command -v dpkg-query >/dev/null || { say "not a Debian system: make sure these are installed: $*"; return 0; }
  local missing
  missing=$(missing_debs "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)"
  fi
  say "installing Debian packages:$missing"
  # Another setup (a second clone, a package manager run) may hold dpkg's lock: wait for it, do not fail.
  local wait_lock="-o DPkg::Lock::Timeout=600"
  apt-get $wait_lock update -qq >/dev/null || say "apt-get update failed; trying the package lists already here"
  DEBIAN_FRONTEND=noninteractive apt-get $wait_lock install -y -qq --no-install-recommends $missing >/dev/null \
    || die "apt-get install failed for:$missing"
}

ensure_npm_deps() {
  # By content, not file times: a checkout or a second worktree touches package-lock.json without changing it.
  local want have stamp=node_modules/.carecall-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  have=$(cat "$stamp" 2>/dev/null || true)
  [ "$want" = "$have" ] && return 0
  if [ -L node_modules ]; then
    # npm ci would empty the checkout this link points to, under everyone who uses it.
    say "node_modules links to $(readlink node_modules), installed from another package-lock.json; not reinstalling it here"
    return 0
  fi
  say "installing npm dependencies (npm ci; dependency install scripts are off, see .npmrc)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
}

worker_runs() {
  [ -x "$1" ] || return 1
  # A worker with unresolved shared libraries is useless; catch it here, not at first room.
  ! ldd "$1" 2>/dev/null | grep -q "not found"
}

try_prebuilt_download() {
  local out="$1"
  node scripts/download-prebuilt-worker.mjs "$MS_VERSION" "$out" 2>/dev/null
}

build_worker() {
  local out="$1"
  ensure_debs $BUILD_DEBS
  local src="$ROOT/node_modules/mediasoup/worker"
  local work="$CACHE_DIR/build-$MS_VERSION"
  rm -rf "$work"; mkdir -p "$work"
  cp -r "$src/." "$work/"
  cp -r scripts/worker-build/. "$work/subprojects/"
  # Bookworm ships meson 1.0.1; the worker builds identically with it (tested).
  sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" "$work/meson.build"
  say "building mediasoup-worker $MS_VERSION from Debian libraries: takes about 6 minutes on 2 cores,"
  say "done once per machine (cached at $out). Log: $work/build.log"
  local started=$SECONDS
  (
    cd "$work"
    meson setup out/build --wrap-mode=nodownload --buildtype release -Db_ndebug=true \
      -Db_pie=true -Db_staticpic=true --prefix "$work/out/Release" --bindir '' --libdir '' >build.log 2>&1
    ninja -C out/build mediasoup-worker 2>&1 | tee -a build.log | awk '
      /^\[[0-9]+\/[0-9]+\]/ { split(substr($1,2), a, "/"); p = int(100*a[1]/a[2]);
        if (p >= last + 10) { last = p - p % 10; printf "[setup]   worker build %d%%\n", last > "/dev/stderr" } }'
    [ "${PIPESTATUS[0]}" = 0 ] || exit 1
  ) || die "worker build failed, see $work/build.log"
  say "worker built in $((SECONDS - started)) s"
  mkdir -p "$(dirname "$out")"
  cp "$work/out/build/mediasoup-worker" "$out.tmp" && mv "$out.tmp" "$out"
  rm -rf "$work"
}

ensure_worker() {
  if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
    worker_runs "$MEDIASOUP_WORKER_BIN" || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not a runnable worker"
    return 0
  fi
  ensure_debs $RUNTIME_DEBS
  if worker_runs "$WORKER_DEST"; then return 0; fi
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.lock-$MS_VERSION"
  flock 9
  if ! worker_runs "$CACHED_WORKER"; then
    if try_prebuilt_download "$CACHED_WORKER" && worker_runs "$CACHED_WORKER"; then
      say "using mediasoup's prebuilt worker $MS_VERSION"
    else
      rm -f "$CACHED_WORKER"
      build_worker "$CACHED_WORKER"
    fi
  fi
  mkdir -p "$(dirname "$WORKER_DEST")"
  cp "$CACHED_WORKER" "$WORKER_DEST"
  flock -u 9
  say "mediasoup-worker $MS_VERSION ready"
}

ensure_web_client() {
  local dist="$ROOT/web-client/dist/index.html"
  local newest
  newest=$(find web-client/src web-client/public web-client/index.html web-client/precall.html web-client/threads.html web-client/embed web-client/vite.config.ts signaling/protocol -newer "$dist" -print -quit 2>/dev/null || true)
  if [ ! -f "$dist" ] || [ -n "$newest" ]; then
    say "building the web client (vite)"
    npx --no-install vite build --config web-client/vite.config.ts --logLevel error
  fi
}

command -v node >/dev/null || die "Node.js 20+ is required"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "Node.js 20+ is required (found $(node -v))"
ensure_npm_deps
ensure_worker
ensure_web_client
if [ "$WITH_BROWSER" = 1 ]; then
  ensure_debs $BROWSER_DEBS
fi
