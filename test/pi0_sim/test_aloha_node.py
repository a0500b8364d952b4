"""The simulator node with the ALOHA MuJoCo physics behind the real trossen_bimanual driver, over real DDS:
the followers' joint states arrive, the driver's JointGroupCommand moves the MuJoCo arm, sim/reward is
published; other embodiments are refused."""

import numpy as np
import pytest

pytest.importorskip('gym_aloha')
pytest.importorskip('interbotix_xs_msgs', reason='make setup builds it into install_vendor/; source tools/env.sh')

from pi0_msgs.msg import ExecutorCommand  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from pi0_common.commands import MODE_ACTIVE, Command  # noqa: E402
from pi0_common.embodiment import load_embodiment  # noqa: E402
from pi0_common.messages import command_to_msg  # noqa: E402
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from pi0_drivers.driver_node import RobotDriverNode  # noqa: E402
from pi0_sim.ros_messages import REWARD_FIELDS  # noqa: E402
from pi0_sim.simulator_node import SimulatorNode  # noqa: E402
from pi0_sim.spec import SimConfigError  # noqa: E402

SIM = {'embodiment': 'trossen_bimanual', 'physics': 'aloha_mujoco', 'aloha_task': 'transfer_cube', 'seed': 3,
       'camera_rate_hz': 1.0}       # renders are ~50 ms each on a CPU: few of them here


def test_the_driver_moves_the_mujoco_arm(ros):
    emb = load_embodiment('trossen_bimanual')
    sim = ros.make(SimulatorNode, SIM, namespace='/aloha')
    driver = ros.make(RobotDriverNode, {'embodiment': 'trossen_bimanual'}, namespace='/aloha')
    probe = ros.node('probe', namespace='/aloha')
    left = ros.collect(probe, JointState, 'follower_left/joint_states', SENSOR_QOS)
    reward = ros.collect(probe, Float64MultiArray, 'sim/reward', LATCHED_QOS)
    top = ros.collect(probe, Image, 'cam_high/camera/color/image_rect_raw', SENSOR_QOS)
    assert ros.wait_for(lambda: left and reward, 10)
    assert list(left[-1].name) == [j.name for j in emb.arms[0].joints] + ['left_finger']
    assert list(reward[-1].data) == [0.0, 0.0, 4.0, 0.0]
    assert reward[-1].layout.dim[0].label == ','.join(REWARD_FIELDS)

    assert ros.wait_for(lambda: all(a.modes.confirmed for a in driver.arms), 5)   # set_operating_modes
    pub = probe.create_publisher(ExecutorCommand, 'pi0/command', CHUNK_QOS)
    joints = emb.indices('joint')
    target = emb.home.copy()
    target[joints] += 0.15                                           # every joint 0.15 rad from home ...
    target[emb.indices('gripper')] = 0.0                             # ... and the grippers open
    for k in range(1, 26):        # as the executor streams: one row a tick at 50 Hz (the driver sends row 0)
        row = emb.home + min(1.0, k / 15) * (target - emb.home)
        now = probe.get_clock().now().nanoseconds * 1e-9
        pub.publish(command_to_msg(Command(MODE_ACTIVE, now, emb.dt, row[None]), emb))
        ros.wait_for(lambda: False, emb.dt)
    target = target[joints].reshape(2, 6)
    assert ros.wait_for(lambda: np.allclose(sim.world.arm_positions('left'), target[0], atol=0.03)
                        and np.allclose(sim.world.arm_positions('right'), target[1], atol=0.03), 5), \
        (sim.world.arm_positions('left'), target)
    assert ros.wait_for(lambda: sim.world.gripper_closure('left') < 0.1, 3)    # unified 0 = open: opened
    assert ros.wait_for(lambda: np.allclose(left[-1].position[:6], target[0], atol=0.03), 2)
    assert ros.wait_for(lambda: top, 3)                              # gym-aloha's top camera, 224x224
    assert (top[-1].width, top[-1].height, top[-1].encoding) == (224, 224, 'rgb8')


def test_other_embodiments_are_refused(ros):
    with pytest.raises(SimConfigError, match='simulates trossen_bimanual'):
        ros.make(SimulatorNode, {**SIM, 'embodiment': 'ur5e'}, namespace='/refused')
