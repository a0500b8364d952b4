"""QoS profiles by role, in one place (overridable per topic by the usual ROS QoS overrides).

Sensor subscriptions are best effort: a best-effort subscriber matches both best-effort and reliable
publishers, so it can never be the side of a QoS mismatch that leaves the policy without input.
"""

from rclpy.duration import Duration
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

SENSOR_QOS = qos_profile_sensor_data                       # cameras, joint states, odometry (subscribers)
SENSOR_PUB_QOS = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                            reliability=ReliabilityPolicy.RELIABLE)   # what ros2_control broadcasters offer
CHUNK_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                       reliability=ReliabilityPolicy.RELIABLE)       # chunks, requests, executor commands
# The policy's pi0/action_chunk publisher asserts its liveliness (DDS does it, not the Python code), so the
# executor hears within about a lease that the policy process died or hangs, without waiting for a chunk
# to run out. Only the executor's liveliness watch requests a lease; every other subscriber of the chunks
# (the executor's data subscription, monitors, `ros2 topic echo`, recorders) requests none, which matches
# any publisher. Shorter leases flapped here while a new process started on a loaded 2-core machine.
POLICY_LIVELINESS_LEASE = 0.25      # s
POLICY_CHUNK_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                              liveliness=LivelinessPolicy.AUTOMATIC,
                              liveliness_lease_duration=Duration(seconds=POLICY_LIVELINESS_LEASE))
# Commands to the robot's controllers (reliable: controllers subscribe reliable). Depth 1: every message
# is a complete set-point or segment that supersedes the one before, so after a stall (a slow network, a
# busy subscriber) only the newest may be delivered; a deeper queue would replay stale set-points.
ROBOT_COMMAND_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                               reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)   # instruction, status
EVENT_QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                       reliability=ReliabilityPolicy.RELIABLE)   # volatile: matches volatile and latched publishers


def warn_on_incompatible_qos(node, topic: str):
    """Subscription event callbacks that say, loudly, when a publisher's QoS cannot match ours (the
    failure that left other bridges running on zero-filled state)."""
    from rclpy.event_handler import SubscriptionEventCallbacks

    def on_incompatible(event):
        node.get_logger().error(
            f'{topic}: a publisher offers an incompatible QoS (policy {event.last_policy_kind}); no data will '
            f'arrive from it. Check reliability/durability of the publisher.', throttle_duration_sec=10.0)

    return SubscriptionEventCallbacks(incompatible_qos=on_incompatible)


def subscribe_any_durability(node, msg_type, topic: str, callback) -> None:
    """Hear a topic from volatile and latched publishers alike (the e-stop): a volatile subscription
    matches every publisher but gets nothing published before it existed; a latched one also gets a
    latched message published earlier, but matches no volatile publisher. A latched publisher reaches
    both, so the callback must not mind a message twice."""
    node.create_subscription(msg_type, topic, callback, EVENT_QOS)
    node.create_subscription(msg_type, topic, callback, LATCHED_QOS)
