#!/usr/bin/env bash
# tools/build_vendor_interfaces.sh: builds the vendor interface packages of vendor_interfaces/<pkg>
# (control_msgs, interbotix_xs_msgs, franka_msgs, arx5_arm_msg: verbatim subsets of the vendors'
# published definitions, see vendor_interfaces/README.md) into build/vendor_interfaces and the
# separate underlay install_vendor/. Called by tools/setup.sh; tools/env.sh sources
# install_vendor/local_setup.bash after the ROS 2 underlay and before the workspace overlay.
#
# An installed vendor package always wins: a package that is importable without install_vendor/
# (and without this workspace's install/) is not built, so ours never shadows it. Idempotent: nothing
# is done when neither the sources nor the chosen set changed since the last build (stamp in
# install_vendor/).
#
# Knobs: PI0_FORCE=1 (rebuild).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/vendor_interfaces"
BUILD="$ROOT/build/vendor_interfaces"
INSTALL="$ROOT/install_vendor"
LOGS="$ROOT/log/vendor_interfaces"
STAMP="$INSTALL/.vendor_stamp"

log() { echo "vendor interfaces: $*" >&2; }
die() { echo "vendor interfaces: error: $*" >&2; exit 1; }

[[ -x "$ROOT/.venv/bin/python" ]] || die ".venv is missing: run bash tools/setup.sh first"
[[ -d "$SRC" ]] || die "$SRC is missing"

# One build at a time: two `make` targets started together would remove each other's build folder.
mkdir -p "$ROOT/build"
if command -v flock >/dev/null; then
  exec 9>"$ROOT/build/.vendor_interfaces.lock"
  flock 9
fi

# Forget our own prefixes: a shell that sourced tools/env.sh before would otherwise find our
# packages in install_vendor/ and take them for installed ones.
_strip() {  # _strip VAR: drop the entries under $INSTALL and $ROOT/install from a path list
  local out='' entry
  local IFS=:
  for entry in ${!1:-}; do
    case "$entry" in "$INSTALL"|"$INSTALL"/*|"$ROOT/install"|"$ROOT/install"/*) continue ;; esac
    out="${out:+$out:}$entry"
  done
  if [[ -n "$out" ]]; then export "$1=$out"; else unset "$1"; fi
}
for var in PYTHONPATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH LD_LIBRARY_PATH; do
  _strip "$var"
done
# The underlay only (the ROS 2 distro or the wheels in .venv, plus whatever the caller sourced).
# shellcheck disable=SC1091
source "$ROOT/tools/env.sh" --underlay-only
PY="$(command -v python)"

# Which packages are already installed: importable in the underlay (any of their interface modules).
mapfile -t all < <(cd "$SRC" && for d in */; do [[ -f "$d/package.xml" ]] && echo "${d%/}"; done)
mapfile -t installed < <(python - "${all[@]}" <<'EOF'
import importlib
import sys

for pkg in sys.argv[1:]:
    for module in ('msg', 'srv', 'action'):
        try:
            importlib.import_module(f'{pkg}.{module}')
        except ImportError:
            continue
        print(pkg)
        break
EOF
)
packages=()
for pkg in "${all[@]}"; do
  if [[ " ${installed[*]:-} " == *" $pkg "* ]]; then
    log "$pkg is installed: using it, not building ours"
  else
    packages+=("$SRC/$pkg")
  fi
done

# Sources by content, plus what was chosen (a package appearing in the underlay changes the set) and
# the interpreter and distro built against.
sig=$(cd "$SRC" && {
  find . -type f | sort | xargs sha1sum
  printf '%s\n' "${packages[@]:-}" "$PY" "${ROS_DISTRO:-}"
} | sha1sum)
if [[ "${PI0_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$sig" && -f "$INSTALL/local_setup.bash" ]]; then
  exit 0
fi

rm -rf "$INSTALL" "$BUILD"   # a package dropped from the set must not linger in the underlay
mkdir -p "$INSTALL" "$BUILD" "$LOGS"
# Generated Python lives here: keep it out of git and out of ruff (which honours .gitignore).
printf '*\n' > "$INSTALL/.gitignore"
if ((${#packages[@]})); then
  log "colcon build of ${#packages[@]} vendor interface package(s) into install_vendor/ (about a minute)"
  # Each package folder is a base path of its own: the COLCON_IGNORE in vendor_interfaces/ keeps a
  # workspace-wide build away from them, and is not consulted for a base path below it.
  (
    cd "$ROOT"
    colcon --log-base "$LOGS" build \
      --base-paths "${packages[@]}" \
      --build-base "$BUILD" --install-base "$INSTALL" \
      --parallel-workers "$(nproc)" \
      --event-handlers console_direct- console_cohesion- \
      --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PY" \
      >"$LOGS/colcon-build.txt" 2>&1 || { tail -60 "$LOGS/colcon-build.txt" >&2; exit 1; }
  ) || die "colcon build failed (full log: log/vendor_interfaces/colcon-build.txt)"
else
  # Nothing to build: an empty underlay keeps `source install_vendor/local_setup.bash` valid.
  printf '# no vendor interfaces built: every vendor package is installed\n' > "$INSTALL/local_setup.bash"
fi
printf '%s' "$sig" > "$STAMP"
log "built into install_vendor/ (tools/env.sh sources it)"
