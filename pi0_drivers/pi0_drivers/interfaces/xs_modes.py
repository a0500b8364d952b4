"""The operating modes an Interbotix follower must be in before it is commanded, set through xs_sdk's
set_operating_modes service (interbotix_xs_msgs/srv/OperatingModes) the way Interbotix/aloha does it.

aloha_bringup starts the follower gripper in linear_position (Interbotix/aloha main 4fa6b2c,
config/follower_modes_left.yaml:11-13, and _right), in which xs_sdk reads a gripper command as metres
between the fingers (Interbotix/interbotix_xs_driver v0.3.3 c9ce74e, src/xs_driver.cpp:530-533). Before it
commands anything, Interbotix/aloha sets the arm group to position and the gripper to
current_based_position (aloha/robot_utils.py:242-246, setup_follower_bot, called by aloha/real_env.py
:134-136), in which a command is the motor angle in radians, the unit of FOLLOWER_GRIPPER_JOINT_OPEN /
CLOSE (aloha/constants.py:48-49) and of the embodiment's command_open / command_closed. The requests carry
interbotix_xs_modules' defaults: profile_type velocity, profile_velocity 0, profile_acceleration 0.

The service is xs_sdk's, in the follower's namespace (interbotix_ros_core jazzy bf127b4,
interbotix_xs_sdk/src/xs_sdk_obj.cpp:127-129). Its response is empty and it answers even a request it could
not apply, so success here means: both requests answered. Until then the arm is not commanded. When the
service disappears (xs_sdk restarted: back in the modes of its mode config) the modes are set again.
"""

from __future__ import annotations

from pi0_drivers.interfaces.base import config_value

ARM_MODE = 'position'                       # aloha/robot_utils.py:244
GRIPPER_MODE = 'current_based_position'     # aloha/robot_utils.py:245
PROFILE = ('velocity', 0, 0)                # profile_type, profile_velocity, profile_acceleration
RETRY_AFTER = 1.0                           # s: ask again when an answer has not come (a request or a
                                            # response lost while the client and the service still match up)


def mode_requests(cfg: dict, where: str, has_gripper: bool) -> list[tuple[str, str, str]]:
    """(cmd_type, name, mode) per request: the arm group, then the gripper."""
    out = [('group', cfg['group_name'], config_value(cfg, 'arm_operating_mode', str, where, ARM_MODE))]
    if has_gripper:
        out.append(('single', cfg['gripper_name'],
                    config_value(cfg, 'gripper_operating_mode', str, where, GRIPPER_MODE)))
    return out


class OperatingModes:
    """Sets the follower's operating modes once its xs_sdk is up; ``ready()`` says whether it may be commanded."""

    def __init__(self, node, service_type, service: str, requests: list[tuple[str, str, str]]):
        self.node, self.service, self.requests = node, service, requests
        self.service_type = service_type
        self.client = node.create_client(service_type, service)
        self.resolved = node.resolve_service_name(service)
        self._futures: list = []
        self._sent_at = 0.0
        self.confirmed = False
        self.attempts = 0

    def describe(self) -> str:
        modes = ', '.join(f'{name} {mode}' for _, name, mode in self.requests)
        state = 'set' if self.confirmed else 'not confirmed yet'
        return f'operating modes {modes} via {self.resolved}: {state}'

    def problem(self) -> str:
        if self.confirmed:
            return ''
        if self._futures:
            return f'waiting for {self.resolved} (interbotix_xs_msgs/srv/OperatingModes) to answer'
        return (f'no service {self.resolved} (interbotix_xs_msgs/srv/OperatingModes): start the follower\'s xs_sdk '
                f'(aloha_bringup) so that its operating modes can be set')

    def ready(self) -> bool:
        """True once every request was answered by the service that is up now."""
        up = self.client.service_is_ready()
        if not up:
            self.confirmed, self._futures = False, []
            return False
        if self.confirmed:
            return True
        now = self.node.get_clock().now().nanoseconds * 1e-9
        if not self._futures or (now - self._sent_at > RETRY_AFTER and not all(f.done() for f in self._futures)):
            self.attempts += 1
            self._futures = [self.client.call_async(self._request(*r)) for r in self.requests]
            self._sent_at = now
            return False
        if all(f.done() for f in self._futures):
            self.confirmed = all(f.exception() is None and f.result() is not None for f in self._futures)
            self._futures = []
        return self.confirmed

    def _request(self, cmd_type: str, name: str, mode: str):
        profile_type, velocity, acceleration = PROFILE
        return self.service_type.Request(cmd_type=cmd_type, name=name, mode=mode, profile_type=profile_type,
                                         profile_velocity=velocity, profile_acceleration=acceleration)
