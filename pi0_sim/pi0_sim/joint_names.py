"""How the simulated controllers find the joints a command names: an arm answers to its name, its joint
state topic and its interface topics (without a leading slash), and a joint name must belong to exactly
one of the arms the command's topic addresses. Shared by the kinematic world and the MuJoCo twin.

Pure Python: no rclpy import.
"""

from __future__ import annotations

from collections.abc import Sequence


def strip_topic(topic: str) -> str:
    return topic.lstrip('/')


def arm_aliases(arm) -> frozenset[str]:
    """The names a command may address an arm (an ArmSpec) by."""
    aliases = {arm.name, strip_topic(arm.joint_state_topic)}
    aliases |= {strip_topic(v) for v in arm.interface.values() if isinstance(v, str) and '/' in v}
    return frozenset(aliases)


def resolve_joints(arms: Sequence, names: Sequence[str], topic: str | None, robot: str) -> list[tuple[object, int]]:
    """(arm, index) per joint name; ``arms`` have ``aliases``, ``index`` (joint name -> column) and ``spec``.

    Raises:
        ValueError: names not a list of strings, duplicates, a topic that addresses no arm, an unknown
            name, or a name on several arms (pass the topic).
    """
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError('names must be a list of joint names')
    if len(set(names)) != len(names):
        raise ValueError(f'duplicate joint names in {list(names)}')
    arms = list(arms)
    if topic is not None:
        arms = [a for a in arms if strip_topic(topic) in a.aliases]
        if not arms:
            raise ValueError(f'topic {topic!r} addresses no arm of {robot}')
    out = []
    for name in names:
        owners = [a for a in arms if name in a.index]
        if not owners:
            known = sorted({n for a in arms for n in a.index})
            raise ValueError(f'unknown joint {name!r} (known: {", ".join(known)})')
        if len(owners) > 1:
            raise ValueError(f'joint {name!r} exists on arms {[a.spec.name for a in owners]}: pass the topic')
        out.append((owners[0], owners[0].index[name]))
    return out
