"""The policy's chunk publisher asserts liveliness with a lease; every subscriber of the chunks must still
match it (the executor's data subscription, the monitor, a recorder adapting to the offer, `ros2 topic
echo`), and the executor's liveliness watch must match the policy but no lease-less publisher."""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSCompatibility,
    QoSProfile,
    ReliabilityPolicy,
    qos_check_compatible,
    qos_profile_system_default,
)

from pi0_common.qos import CHUNK_QOS, POLICY_CHUNK_QOS


def compatible(publisher, subscription) -> bool:
    return qos_check_compatible(publisher, subscription)[0] != QoSCompatibility.ERROR


def test_every_chunk_subscriber_matches_the_policy_publisher():
    # what pi0_recording's recorder subscribes with for a reliable, volatile offer (topics.adapted_request)
    recorder = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)
    for subscription in (CHUNK_QOS, recorder, qos_profile_system_default, QoSProfile(depth=10)):
        assert compatible(POLICY_CHUNK_QOS, subscription), subscription


def test_the_liveliness_watch_matches_the_policy_and_ignores_lease_less_publishers():
    assert compatible(POLICY_CHUNK_QOS, POLICY_CHUNK_QOS)
    assert not compatible(CHUNK_QOS, POLICY_CHUNK_QOS)
    assert compatible(CHUNK_QOS, CHUNK_QOS)      # lease-less publishers still reach the data subscription
