"""Whether the policy is alive, from DDS liveliness rather than from chunk age.

The policy's pi0/action_chunk publisher offers AUTOMATIC liveliness with a short lease (qos.POLICY_CHUNK_QOS):
the DDS layer of its process asserts it, whatever the Python code does. A second, data-less subscription
requesting that lease sees the lease lapse when the process is killed or hangs, typically in well under a
second, while the executed part of a chunk is still running. Only publishers offering a lease at most as
long match it (the policy's); other publishers of chunks (tests, relays) are ignored by the watch and still
reach the data subscription, which requests no lease.
"""

from __future__ import annotations

from collections.abc import Callable

from pi0_common.qos import POLICY_CHUNK_QOS, POLICY_LIVELINESS_LEASE


def watch_policy_liveliness(node, topic: str, on_change: Callable[[bool, str], None]):
    """Call ``on_change(alive, reason)`` when the first policy publisher on ``topic`` becomes alive, and
    when the last one stops being alive (its lease lapsed, or it left). Returns the subscription."""
    from pi0_msgs.msg import ActionChunk
    from rclpy.event_handler import SubscriptionEventCallbacks

    alive = [False]

    def on_liveliness(event) -> None:
        now_alive = event.alive_count > 0
        if now_alive != alive[0]:
            alive[0] = now_alive
            on_change(now_alive, '' if now_alive else
                      f'{topic} missed its {POLICY_LIVELINESS_LEASE:g} s liveliness lease (the policy died or hangs)')

    # raw: the messages are not deserialized (the data subscription does that); incompatible publishers
    # (those offering no lease) are expected here and not worth a warning.
    return node.create_subscription(ActionChunk, topic, lambda _msg: None, POLICY_CHUNK_QOS, raw=True,
                                    event_callbacks=SubscriptionEventCallbacks(
                                        liveliness=on_liveliness, incompatible_qos=lambda _event: None))
