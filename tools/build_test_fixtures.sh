#!/usr/bin/env bash
# tools/build_test_fixtures.sh: builds the vendor interface fixtures of the tests
# (test/fixtures/vendor_msgs/<pkg>: wire-compatible subsets of control_msgs, franka_msgs,
# interbotix_xs_msgs and the ARX X5 messages) into build/test_fixtures and install_test_fixtures/.
#
# Run after `bash tools/setup.sh` (it needs .venv and the ROS 2 underlay). Idempotent: skipped when
# the fixture sources have not changed since the last build (stamp in install_test_fixtures/).
# A fixture whose package the underlay already provides (a real ROS install with, say,
# ros-$ROS_DISTRO-control-msgs) is not built: the tests then run on the real package.
# Afterwards: `source install_test_fixtures/local_setup.bash` (on top of tools/env.sh) before pytest.
#
# Knobs: PI0_FORCE=1 (rebuild).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/test/fixtures/vendor_msgs"
BUILD="$ROOT/build/test_fixtures"
INSTALL="$ROOT/install_test_fixtures"
LOGS="$ROOT/log/test_fixtures"
STAMP="$INSTALL/.fixtures_stamp"

log() { echo "test fixtures: $*" >&2; }
die() { echo "test fixtures: error: $*" >&2; exit 1; }

[[ -x "$ROOT/.venv/bin/python" ]] || die ".venv is missing: run bash tools/setup.sh first"
[[ -d "$SRC" ]] || die "$SRC is missing"

# The underlay only: a stale overlay of fixtures must not hide what the underlay provides.
# shellcheck disable=SC1091
source "$ROOT/tools/env.sh" --underlay-only
PY="$(command -v python)"

packages=()
for dir in "$SRC"/*/; do
  [[ -f "$dir/package.xml" ]] || continue
  pkg="$(basename "$dir")"
  if python -c "import importlib, sys; importlib.import_module(sys.argv[1] + '.msg')" "$pkg" >/dev/null 2>&1; then
    log "$pkg is installed in the underlay: using it, not the fixture"
  else
    packages+=("$dir")
  fi
done

# Sources by content, plus what was chosen (a package appearing in the underlay changes the set).
sig=$(cd "$SRC" && { find . -type f | sort | xargs sha1sum; printf '%s\n' "${packages[@]:-}"; } | sha1sum)
if [[ "${PI0_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$sig" && -f "$INSTALL/local_setup.bash" ]]; then
  exit 0
fi

rm -rf "$INSTALL"            # a fixture dropped from the set must not linger in the overlay
mkdir -p "$INSTALL" "$BUILD" "$LOGS"
# Generated Python lives here: keep it out of git and out of ruff (which honours .gitignore).
printf '*\n' > "$INSTALL/.gitignore"
if ((${#packages[@]})); then
  log "colcon build of ${#packages[@]} fixture package(s) (about a minute)"
  # Each package folder is a base path of its own: the COLCON_IGNORE in test/fixtures/vendor_msgs
  # keeps a workspace-wide build away from them, and is not consulted for a base path below it.
  (
    cd "$ROOT"
    colcon --log-base "$LOGS" build \
      --base-paths "${packages[@]}" \
      --build-base "$BUILD" --install-base "$INSTALL" \
      --parallel-workers "$(nproc)" \
      --event-handlers console_direct- console_cohesion- \
      --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PY" \
      >"$LOGS/colcon-build.txt" 2>&1 || { tail -60 "$LOGS/colcon-build.txt" >&2; exit 1; }
  ) || die "colcon build failed (full log: log/test_fixtures/colcon-build.txt)"
else
  # Nothing to build: an empty overlay keeps `source install_test_fixtures/local_setup.bash` valid.
  printf '# no test fixtures built: the underlay provides every vendor package\n' > "$INSTALL/local_setup.bash"
fi
printf '%s' "$sig" > "$STAMP"
log "built into install_test_fixtures/ (source install_test_fixtures/local_setup.bash)"
