# source tools/env.sh: puts the pi0_ros workspace (and the ROS 2 it was built on) on this shell's
# paths: the ROS 2 underlay, the vendor interfaces of install_vendor/, the workspace overlay install/.
# With --underlay-only, only the ROS 2 underlay (for building).
_pi0_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${ROS_DISTRO:-}" ] && [ -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]; then
  # A real distro: it is its own underlay.
  . "/opt/ros/${ROS_DISTRO}/setup.bash"
  . "$_pi0_root/.venv/bin/activate"
else
  # ROS 2 Kilted from PyPI wheels, installed into .venv: the venv prefix is the ament prefix.
  . "$_pi0_root/.venv/bin/activate"
  case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" ;;
  esac
  export ROS_VERSION=2 ROS_PYTHON_VERSION=3 ROS_DISTRO=kilted
  export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
fi
# Discovery stays on this host unless the user chose otherwise: the Fast DDS default multicasts
# on every interface.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
if [ "${1:-}" != "--underlay-only" ]; then
  # The vendor interface packages that no installed package provides (tools/build_vendor_interfaces.sh),
  # an underlay of their own between ROS 2 and the workspace; then the workspace overlay.
  if [ -f "$_pi0_root/install_vendor/local_setup.bash" ]; then
    . "$_pi0_root/install_vendor/local_setup.bash"
  fi
  if [ -f "$_pi0_root/install/local_setup.bash" ]; then
    . "$_pi0_root/install/local_setup.bash"
  fi
fi
unset _pi0_root
