"""The transfer_cube expert's kinematics on the MuJoCo ALOHA twin: the inverse kinematics reaches a pose within
its tolerances on the wrist branch nearest home, leaves the live simulation alone, and reports an unreachable
pose."""

import numpy as np
import pytest

pytest.importorskip('gym_aloha')

from pi0_common.embodiment import load_embodiment  # noqa: E402
from pi0_sim.aloha_kinematics import ArmKinematics, gripper_frame  # noqa: E402
from pi0_sim.aloha_physics import AlohaPhysicsWorld  # noqa: E402
from pi0_sim.expert import PlanningError  # noqa: E402

EMB = load_embodiment('trossen_bimanual')


@pytest.fixture(scope='module')
def world():
    return AlohaPhysicsWorld(EMB, task='transfer_cube', seed=0)


def arm_kinematics(world, name):
    """As TransferCubeExpert builds it: the embodiment's joints, limits and home."""
    joints = next(a for a in EMB.arms if a.name == name).joints
    return ArmKinematics(world.physics.model.ptr, name, [j.name for j in joints], [j.lower for j in joints],
                         [j.upper for j in joints], [j.home for j in joints])


def test_inverse_kinematics_on_the_scene_model(world):
    kin = arm_kinematics(world, 'right')
    rot = gripper_frame([-0.4, 0.0, -0.9], [0.0, -1.0, 0.0])
    target = np.array([0.1, 0.45, 0.08])
    q = kin.solve(target, rot, kin.home)
    p, rot_q = kin.forward(q)
    assert np.linalg.norm(p - target) < 0.003 and np.allclose(rot_q, rot, atol=0.03)
    assert abs(q[3]) < 1.0      # not the wrist branch turned by pi
    # the live simulation is not disturbed
    before = world.physics.data.qpos.copy()
    kin.solve([0.0, 0.5, 0.3], rot, kin.home)
    np.testing.assert_array_equal(world.physics.data.qpos, before)
    with pytest.raises(PlanningError, match='cannot reach'):
        kin.solve([-0.6, 0.5, 0.2], rot, kin.home)
