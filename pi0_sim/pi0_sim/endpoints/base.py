"""What every simulated controller endpoint shares.

An endpoint is the simulator's side of one vendor interface: it subscribes to (or serves) exactly the
topics and actions the real controller does, with the names from the embodiment's ``interface``
block, and turns what arrives into SimWorld commands with the vendor controller's semantics. The
driver node cannot tell it from the real robot: in simulation the commands travel as the real
messages, over DDS, to the real names.
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from pi0_common.messages import MessageError, import_types
from pi0_sim.spec import SimConfigError

# How the vendor controllers subscribe to their command topics: reliable, the last 10 (xs_sdk:
# Interbotix/interbotix_ros_core jazzy bf127b4, interbotix_xs_sdk/src/xs_sdk_obj.cpp:101-108; the ARX node:
# ARXroboticsX/ARX_X5 c783287, ROS2/X5_ws/src/arx_x5_ros2/arx_x5_controller/src/X5Controller.cpp:38-41).
# The drivers publish with depth 1 (pi0_common.qos.ROBOT_COMMAND_QOS); what a subscriber queues is its own.
CONTROLLER_SUB_QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


class SimEndpoint:
    """Args:
        node: the simulator node (publishers, subscriptions, clock, logger).
        world: the SimWorld; ``lock`` guards it (the node steps and renders it from timers).
        embodiment: the simulated robot.
        spec: the ArmSpec or BaseSpec this endpoint stands in for.
        config: that spec's ``interface`` block.
    """

    def __init__(self, node, world, lock, embodiment, spec, config: dict[str, Any]):
        self.node, self.world, self.lock, self.embodiment, self.spec = node, world, lock, embodiment, spec
        self.config = config
        self.where = f'{embodiment.name}/{getattr(spec, "name", "base")}'

    def now(self) -> float:
        return self.node.now()          # the simulator's clock: wall time, or its own in lock-step

    def log_error(self, text: str) -> None:
        self.node.get_logger().error(f'sim: {text}', throttle_duration_sec=2.0)


def vendor_types(package: str, module: str, names: tuple[str, ...], where: str) -> tuple:
    """The named types of a vendor interface package (e.g. interbotix_xs_msgs.msg).

    Raises:
        SimConfigError: the package is not installed; ``make setup`` builds it into install_vendor/
            when no installed one exists, so this means the environment is not sourced.
    """
    try:
        types = import_types(package, module, names)
    except MessageError as e:
        raise SimConfigError(f'{where}: {e}') from None
    if types is None:
        raise SimConfigError(f'{where}: the simulated controller needs {package}.{module} ({", ".join(names)}), '
                             f'which is not installed: make setup builds it; source tools/env.sh')
    return types
