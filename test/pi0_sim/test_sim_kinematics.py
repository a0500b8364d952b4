"""Forward kinematics against hand-computed and published values, the DH tables against the
vendors' URDF joint chains, the Jacobian against finite differences, and IK round trips."""

import math

import numpy as np
import pytest

from pi0_common.embodiment import load_embodiment
from pi0_sim.kinematics import IKError, pose, solve_ik
from pi0_sim.spec import parse_sim

PI = math.pi
FAMILIES = ['ur5e', 'franka', 'trossen_bimanual', 'arx_bimanual', 'fibocom_mobile']


def chain_of(embodiment, arm=None):
    emb = load_embodiment(embodiment)
    return parse_sim(emb).arms[arm or emb.arms[0].name].chain


def test_ur5e_fk_at_zero_matches_the_dh_table():
    # By hand, in the DH base frame, all joints 0: link 1 lifts by d1 and turns z1 to -y; a2 and
    # a3 run along -x; d4 goes along z3 = -y, link 4 turns z to -z; d5 goes down; link 5 turns z
    # back to -y and d6 goes along it. Flange at (a2 + a3, -(d4 + d6), d1 - d5), z axis -y.
    chain = chain_of('ur5e')
    flange = np.linalg.inv(chain.mount) @ chain.frames(np.zeros(6))[-2]
    np.testing.assert_allclose(flange[:3, 3], [-0.425 - 0.3922, -0.1333 - 0.0996, 0.1625 - 0.0997], atol=1e-9)
    np.testing.assert_allclose(flange[:3, 2], [0.0, -1.0, 0.0], atol=1e-9)


def test_ur5e_fk_at_home_matches_the_dh_table():
    # Home (0, -pi/2, pi/2, -pi/2, -pi/2, 0): the upper arm stands up (z = d1 - a2), the forearm
    # points back along -x (x = a3), d4 goes along -y, d5 along -x, and d6 hangs down: flange at
    # (a3 - d5, -d4, d1 - a2 - d6) with the tool axis pointing straight down.
    chain = chain_of('ur5e')
    q = np.array([0.0, -PI / 2, PI / 2, -PI / 2, -PI / 2, 0.0])
    frames = chain.frames(q)
    flange = np.linalg.inv(chain.mount) @ frames[-2]
    np.testing.assert_allclose(flange[:3, 3], [-0.3922 - 0.0997, -0.1333, 0.1625 + 0.425 - 0.0996], atol=1e-9)
    np.testing.assert_allclose(flange[:3, 2], [0.0, 0.0, -1.0], atol=1e-9)
    # In the world the mount turns it by pi (base_link faces +x) and the tool tip is 0.16 m below.
    np.testing.assert_allclose(frames[-1][:3, 3], [0.4919, 0.1333, 0.4879 - 0.16], atol=1e-9)


def test_franka_ready_pose_matches_the_published_end_effector_pose():
    # libfranka's O_T_EE in the ready pose (0, -pi/4, 0, -3pi/4, 0, pi/2, pi/4): (0.307, 0, 0.487), pointing down.
    t = chain_of('franka').tool_pose(np.array([0.0, -PI / 4, 0.0, -3 * PI / 4, 0.0, PI / 2, PI / 4]))
    np.testing.assert_allclose(t[:3, 3], [0.3069, 0.0, 0.4869], atol=5e-4)
    np.testing.assert_allclose(t[:3, 2], [0.0, 0.0, -1.0], atol=1e-6)


def _rotation(axis, angle):
    axis = np.asarray(axis, dtype=float)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    t = np.eye(4)
    t[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
    return t


def _urdf_fk(joints, q, tip):
    t = np.eye(4)
    for (xyz, rpy, axis), qi in zip(joints, q, strict=True):
        t = t @ pose(xyz, rpy) @ _rotation(axis, qi)
    return t @ pose(tip)


# Joint origins (xyz, rpy) and axes as in interbotix_xsarm_descriptions vx300s and arx5_description X5.
VX300S_URDF = [((0, 0, 0.079), (0, 0, 0), (0, 0, 1)), ((0, 0, 0.04805), (0, 0, 0), (0, 1, 0)),
               ((0.05955, 0, 0.3), (0, 0, 0), (0, 1, 0)), ((0.2, 0, 0), (0, 0, 0), (1, 0, 0)),
               ((0.1, 0, 0), (0, 0, 0), (0, 1, 0)), ((0.069744, 0, 0), (0, 0, 0), (1, 0, 0))]
X5_URDF = [((0, 0, 0.0605), (0, 0, 0), (0, 0, 1)), ((0.02, 0, 0.04), (0, 0, 0), (0, 1, 0)),
           ((-0.264, 0, 0), (PI, 0, 0), (0, 1, 0)), ((0.245, 0, -0.056), (0, 0, 0), (0, 1, 0)),
           ((0.06775, 0.0005, -0.0865), (0, 0, 0), (0, 0, 1)), ((0.02895, 0, 0.0865), (-PI, 0, 0), (1, 0, 0))]


@pytest.mark.parametrize('embodiment, urdf, tip, tol', [
    ('trossen_bimanual', VX300S_URDF, (0.1, 0, 0), 1e-5),
    ('arx_bimanual', X5_URDF, (0.145, 0, 0), 1.5e-3),    # the DH table drops a 0.5 mm lateral offset
])
def test_dh_tables_reproduce_the_urdf_joint_chains(embodiment, urdf, tip, tol):
    chain = chain_of(embodiment, 'left')
    mount_inv = np.linalg.inv(chain.mount)
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.uniform(-1.5, 1.5, 6)
        expected = _urdf_fk(urdf, q, tip)
        got = mount_inv @ chain.tool_pose(q)
        np.testing.assert_allclose(got[:3, 3], expected[:3, 3], atol=tol)
        # URDF gripper frames approach along x and open along y; the tool frame along z and y.
        np.testing.assert_allclose(got[:3, 2], expected[:3, 0], atol=tol * 10)
        np.testing.assert_allclose(got[:3, 1], expected[:3, 1], atol=tol * 10)


@pytest.mark.parametrize('embodiment', FAMILIES)
def test_jacobian_matches_finite_differences(embodiment):
    chain = chain_of(embodiment)
    q = np.random.default_rng(2).uniform(-1.0, 1.0, chain.dof)
    jac = chain.jacobian(q)
    eps = 1e-6
    for i in range(chain.dof):
        dq = np.zeros(chain.dof)
        dq[i] = eps
        dp = (chain.tool_position(q + dq) - chain.tool_position(q - dq)) / (2 * eps)
        np.testing.assert_allclose(jac[:3, i], dp, atol=1e-6)


@pytest.mark.parametrize('embodiment', FAMILIES)
def test_ik_round_trips_reachable_targets(embodiment):
    emb = load_embodiment(embodiment)
    chain = chain_of(embodiment)
    home = np.array([j.home for j in emb.arms[0].joints])
    rng = np.random.default_rng(3)
    for _ in range(5):
        # A target that is reachable by construction: the tool position of a nearby configuration.
        q_true = np.clip(home + rng.uniform(-0.4, 0.4, chain.dof), chain.lower, chain.upper)
        target = chain.tool_position(q_true)
        q = solve_ik(chain, target, home)
        assert np.linalg.norm(chain.tool_position(q) - target) < 1e-3
        assert np.all(q >= chain.lower) and np.all(q <= chain.upper)


def test_ik_can_keep_the_tool_pointing_down():
    chain = chain_of('ur5e')
    home = np.array([j.home for j in load_embodiment('ur5e').arms[0].joints])
    q = solve_ik(chain, [0.55, -0.2, 0.1], home, point_down=True)
    t = chain.tool_pose(q)
    np.testing.assert_allclose(t[:3, 3], [0.55, -0.2, 0.1], atol=1e-3)
    assert t[:3, 2] @ [0.0, 0.0, -1.0] > math.cos(math.radians(1.0))


def test_ik_reports_unreachable_targets():
    chain = chain_of('ur5e')
    with pytest.raises(IKError, match='did not converge'):
        solve_ik(chain, [3.0, 0.0, 0.0], np.zeros(6), raise_on_failure=True, max_iterations=50)
    with pytest.raises(ValueError):
        solve_ik(chain, [np.nan, 0.0, 0.0], np.zeros(6))
