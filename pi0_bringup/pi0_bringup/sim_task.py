"""Judging the simulated task from what the simulator publishes (pi0_msgs/SimTaskState), never from the
simulator's insides: which object an instruction names, whether an arm reached it, how far its tool is.
Plain functions of the message, so the tools and their tests share one reading of it.
"""

from __future__ import annotations

import math


def named_object(instruction: str, object_names) -> str | None:
    """The object (block colour) the instruction names, if it names exactly one of them."""
    words = instruction.lower().replace(',', ' ').replace('.', ' ').split()
    named = [n for n in object_names if n.lower() in words]
    return named[0] if len(named) == 1 else None


def reached(state, arm: str, obj: str) -> bool:
    return f'{arm}/{obj}' in state.reached


def reached_objects(state, arm: str) -> set[str]:
    return {pair.split('/', 1)[1] for pair in state.reached if pair.split('/', 1)[0] == arm}


def horizontal_distance(state, arm: str, obj: str) -> float:
    """Tool tip to the object's centre, in the table plane (m)."""
    tool = state.tool_positions[list(state.arm_names).index(arm)]
    centre = state.object_positions[list(state.object_names).index(obj)]
    return math.hypot(tool.x - centre.x, tool.y - centre.y)


def first_arm(state) -> str:
    return state.arm_names[0]


def task_report(state, instruction: str) -> str | None:
    """One line on how far the first arm's tool is from the block the instruction names; None when the
    instruction names none of the scene's objects."""
    if state is None or not state.arm_names:
        return None
    target = named_object(instruction, state.object_names)
    if target is None:
        return None
    arm = first_arm(state)
    dist = horizontal_distance(state, arm, target)
    return (f'"{instruction}": tool {100 * dist:.1f} cm from the {target} block, '
            f'reached: {"yes" if reached(state, arm, target) else "no"}')
