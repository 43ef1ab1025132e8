#!/usr/bin/env bash
# Run the test suite on newer QGIS releases, each in a Debian chroot built once and cached.
#
#   scripts/qgis_versions.sh build SUITE   build (or reuse) the cached root for SUITE
#   scripts/qgis_versions.sh test SUITE    build if needed, then run ruff, the Qt lint and both test tiers
#                                          inside it on a copy of this checkout
#   scripts/qgis_versions.sh shell SUITE   an interactive shell inside the root (debugging)
#
# SUITE: trixie (QGIS 3.40 LTR) or forky (QGIS 3.44). Needs root, mmdebstrap (installed with apt when
# missing) and the Debian archive. Roots live in $SMD_CHROOT_CACHE (default /var/cache/smdownscale/chroots),
# one folder per suite, package list and mirror, so a machine pays the build (about 5-7 minutes, 2.3 GB)
# once. The Python venv inside a root is keyed by requirements*.txt and rebuilt when they change.
# PYTEST_ADDOPTS passes through (e.g. PYTEST_ADDOPTS="-k workflow_model" for a few tests).
# Exit codes: 0 suite green, 1 tests failed, 3 the chroot could not be built or entered (infrastructure).
set -uo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SMD_CHROOT_CACHE:-/var/cache/smdownscale/chroots}"
PACKAGES="qgis,python3-qgis,qgis-providers,gdal-bin,python3-gdal,python3-venv,python3-pip,gcc,libc6-dev,make,git,ca-certificates,pyqt5-dev-tools,qttools5-dev-tools"
VENV=/opt/smd-venv

infra() {
  echo "INFRASTRUCTURE: $*" >&2
  echo "INFRASTRUCTURE: this is not a test failure; the QGIS chroot could not be built or entered." >&2
  exit 3
}

log() { echo "[qgis-versions $(date -u +%H:%M:%S)] $*" >&2; }

[ "$(id -u)" = 0 ] || infra "building and entering a chroot needs root (run as root or with sudo)."

mirror() {
  # the Debian mirror the host's own apt uses (deb822 .sources or one-line .list)
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1)
  [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v security | head -n1)
  echo "${m:-http://deb.debian.org/debian}"
}

root_of() {
  local key
  key=$(printf '%s\n%s\n%s\n' "$1" "$PACKAGES" "$(mirror)" | sha256sum | cut -c1-12)
  echo "$CACHE/$1-$key"
}

build() {
  local suite=$1 root tmp
  root=$(root_of "$suite")
  if [ -f "$root/.smd-complete" ]; then
    log "$suite: cached root $root"
    return 0
  fi
  command -v mmdebstrap >/dev/null || {
    log "installing mmdebstrap (apt)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; } ||
      infra "apt-get install mmdebstrap failed."
  }
  mkdir -p "$CACHE" || infra "cannot create $CACHE"
  tmp="$root.partial.$$"
  rm -rf "$tmp"
  log "$suite: building root from $(mirror) (about 5-7 minutes)"
  local t0=$SECONDS
  # forky's Release file looks expired to mmdebstrap, which ignores the host's apt settings
  if ! mmdebstrap --quiet --variant=apt --include="$PACKAGES" \
    --aptopt='Acquire::Check-Valid-Until "false"' "$suite" "$tmp" "$(mirror)" >"$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2
    rm -rf "$tmp"
    infra "mmdebstrap $suite failed (archive unreachable, or the suite's packages cannot be installed together); log above."
  fi
  rm -f "$tmp.log"
  touch "$tmp/.smd-complete"
  mv "$tmp" "$root" || infra "cannot move $tmp to $root"
  log "$suite: root built in $((SECONDS - t0)) s"
}

# Copy the host's network and package-index set-up into the root: DNS, extra CA certificates, pip's
# configuration files; print the local folders those files name (bound read-only when entering).
prepare_net() {
  local root=$1 f d
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
  fi
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt /root/.config/pip/pip.conf /root/.pip/pip.conf; do
    [ -f "$f" ] || continue
    mkdir -p "$root$(dirname "$f")"
    cp "$f" "$root$f"
  done
}

local_dirs() {
  # folders named by pip's configuration and PIP_* variables that exist on the host
  {
    cat /etc/pip.conf /etc/xdg/pip/pip.conf /root/.config/pip/pip.conf /root/.pip/pip.conf 2>/dev/null
    env | grep '^PIP_'
  } | grep -oE '(file://)?/[A-Za-z0-9._/-]+' | sed 's|^file://||' | while read -r p; do
    [ -d "$p" ] && echo "$p"
    [ -f "$p" ] && [ "${p#/etc/}" = "$p" ] && dirname "$p"
    case "$p" in */simple) [ -d "${p%/simple}" ] && echo "${p%/simple}" ;; esac
  done | grep -v '^/etc' | sort -u
}

# enter ROOT [SRC] -- CMD...: run CMD inside the root; mounts vanish when it exits
enter() {
  local root=$1 src=$2
  shift 2
  local binds="" d envs=() v
  for d in $(local_dirs); do
    binds+="mkdir -p '$root$d' && mount --bind '$d' '$root$d' && mount -o remount,bind,ro '$root$d'; "
  done
  if [ -n "$src" ]; then
    binds+="mkdir -p '$root/src' && mount --bind '$src' '$root/src' && mount -o remount,bind,ro '$root/src'; "
  fi
  while IFS= read -r v; do envs+=("$v"); done < <(env | grep -E '^(PIP_[A-Z_]+|SMDOWNSCALE_[A-Z_]+|PYTEST_ADDOPTS)=')
  unshare --mount --propagation private -- bash -c "set -e
    mount -t proc proc '$root/proc'; mount --rbind /dev '$root/dev'; mount -t sysfs sys '$root/sys'
    mount -t tmpfs -o size=8g tmpfs '$root/tmp'
    $binds
    exec chroot '$root' /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/tmp/runtime PYTHONDONTWRITEBYTECODE=1 \"\$@\"" \
    bash "${envs[@]}" "$@"
}

venv() {
  local suite=$1 root key
  root=$(root_of "$suite")
  key=$(cat "$HERE/requirements.txt" "$HERE/requirements-dev.txt" | sha256sum | cut -c1-12)
  if [ -f "$root$VENV/.smd-$key" ]; then
    return 0
  fi
  prepare_net "$root"
  log "$suite: creating the venv (numpy pinned to the suite's own version)"
  rm -rf "$root$VENV"
  # pip's notes about the host's local index folders that lack a package are noise here
  enter "$root" "$HERE" bash -c "set -eo pipefail
    np=\$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')
    /usr/bin/python3 -m venv --system-site-packages $VENV
    $VENV/bin/python -m pip install -q --disable-pip-version-check \"numpy==\$np\" -r /src/requirements-dev.txt 2>&1 |
      { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    touch $VENV/.smd-$key" || infra "pip could not install requirements-dev.txt inside the $suite root (package index unreachable, or no wheel for this Python)."
}

run_tests() {
  local suite=$1 root t0
  build "$suite"
  venv "$suite"
  root=$(root_of "$suite")
  enter "$root" "" /usr/bin/python3 -c "import qgis.core" ||
    infra "cannot enter the $suite root $root (unshare/chroot/mount refused, or its QGIS does not import)."
  t0=$SECONDS
  log "$suite: running the suite on a copy of $HERE"
  # the copy is the working tree as git sees it (tracked and untracked, not ignored), without build products
  local list
  list=$(mktemp)
  (cd "$HERE" && git ls-files -z --cached --others --exclude-standard | grep -zv '^\.venv$') >"$list"
  enter "$root" "$HERE" bash -c "set -e
    mkdir -p /tmp/runtime /tmp/smd && chmod 700 /tmp/runtime
    cd /src && tar --null -T /dev/stdin -cf - 2>/dev/null | tar -xf - -C /tmp/smd
    cd /tmp/smd
    # a repository of the copy, for what reads the file list from git (build_zip, i18n, lint_qt)
    git init -q && echo .venv >>.git/info/exclude && git add -A
    git -c user.name=smd -c user.email=smd@localhost commit -qm copy
    ln -s $VENV .venv
    echo \"QGIS \$(/usr/bin/python3 -c 'from qgis.core import Qgis; print(Qgis.QGIS_VERSION)') in $suite\"
    /usr/bin/python3 algorithms/native.py --compiler cc --strict >/dev/null
    rc=0
    .venv/bin/python -m ruff check . || rc=1
    .venv/bin/python scripts/lint_qt.py || rc=1
    .venv/bin/python -m pytest -p no:cacheprovider tests/unit tests/qgis -q \$PYTEST_ARGS || rc=1
    exit \$rc" <"$list"
  local rc=$?
  rm -f "$list"
  log "$suite: suite finished in $((SECONDS - t0)) s (exit $rc)"
  return $rc
}

# the whole command in one function, read before it runs: editing this file during a run is safe
main() {
  cmd=${1:-}
  suite=${2:-}
  case "$suite" in trixie | forky) ;; *)
    echo "usage: $0 build|test|shell trixie|forky" >&2
    exit 2
    ;;
  esac
  case "$cmd" in
  build) build "$suite" && venv "$suite" ;;
  test) run_tests "$suite" ;;
  shell)
    build "$suite" && venv "$suite"
    enter "$(root_of "$suite")" "$HERE" bash
    ;;
  *)
    echo "usage: $0 build|test|shell trixie|forky" >&2
    exit 2
    ;;
  esac
}

main "$@"; exit $?
