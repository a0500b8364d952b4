"""What the vendor-message interfaces (franka, interbotix, arx) share: requiring a vendor message
package (pi0_common.messages.import_types finds it), limit clamping, and refusing the UR-only mode
overrides.

Vendor packages (franka_msgs, interbotix_xs_msgs, the ARX messages, control_msgs) are not on the
package registries; they come with the vendor's ROS 2 workspace. Where none is installed, make setup
builds wire-identical interface packages from the vendors' definitions (vendor_interfaces/), so the
real and the simulated stack run this same code. A package that is still missing stops the driver
with an InterfaceError naming it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pi0_common.embodiment_parts import ArmSpec
from pi0_drivers.interfaces.base import InterfaceError

UR_ONLY_OVERRIDES = {'mode': 'arm_mode', 'gripper_mode': 'gripper_mode'}   # interface key -> driver parameter


def require_types(types: tuple | None, package: str, where: str, install_hint: str) -> tuple:
    """The vendor types, or InterfaceError naming the package and where to get it."""
    if types is None:
        raise InterfaceError(f'{where}: the {package} message package is not installed ({install_hint}; '
                             f'make setup builds its interface definitions where none is installed)')
    return types


def merged_config(arm_interface: dict[str, Any], overrides: dict[str, Any], where: str, driver: str) -> dict[str, Any]:
    """The interface block; the driver node's UR-only overrides (arm_mode, gripper_mode) are refused by
    name rather than reported as unknown interface fields."""
    for key, param in UR_ONLY_OVERRIDES.items():
        if overrides.get(key):
            raise InterfaceError(f'{where}: parameter {param}={overrides[key]!r} does not apply to the {driver} '
                                 f'driver (UR arms only); leave it empty')
    return dict(arm_interface)


class LimitClamp:
    """Clamps one arm's joint targets to the embodiment limits and counts what it had to change.

    The executor clamps already; vendor drivers that check nothing (Interbotix xs_sdk, ARX) get a
    second clamp here, so a bug upstream can never put an out-of-range set-point on the wire.
    """

    def __init__(self, arm: ArmSpec):
        self.names = [j.name for j in arm.joints]
        self.lower = np.array([j.lower for j in arm.joints])
        self.upper = np.array([j.upper for j in arm.joints])
        self.clamped = 0                        # commands that needed clamping (a sign of an upstream bug)

    def __call__(self, values: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(clamped values, names of the joints that were out of range)."""
        clamped = np.clip(values, self.lower, self.upper)
        off = [n for n, a, b in zip(self.names, values, clamped, strict=True) if abs(a - b) > 1e-9]
        if off:
            self.clamped += 1
        return clamped, off

    def targets(self, values: np.ndarray, node, where: str) -> np.ndarray | None:
        """The values to put on the wire, clamped (with a warning), or None (with an error) if any is not finite."""
        if not np.all(np.isfinite(values)):     # the driver node refuses these already; never stream one
            node.get_logger().error(f'{where}: non-finite joint target, nothing sent', throttle_duration_sec=2.0)
            return None
        clamped, off = self(values)
        if off:
            node.get_logger().warning(f'{where}: clamped {", ".join(off)} to the joint limits (the executor should '
                                      f'have)', throttle_duration_sec=2.0)
        return clamped
