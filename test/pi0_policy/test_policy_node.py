"""The policy node over real DDS, the test playing the robot (joint states, cameras) and the executor."""

import io

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from pi0_msgs.msg import ActionChunk, ChunkRequest
from pi0_msgs.srv import SetInstruction
from PIL import Image as PILImage
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String

from pi0_common.messages import to_sec, to_time_msg
from pi0_common.qos import CHUNK_QOS, LATCHED_QOS, SENSOR_PUB_QOS
from pi0_policy.policy_node import PolicyNode

UR_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint', 'wrist_1_joint', 'wrist_2_joint',
             'wrist_3_joint', 'robotiq_85_left_knuckle_joint']
HOME = [0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0, 0.0]


class Robot:
    """Publishes what a UR5e with two cameras would, with knobs to break it."""

    def __init__(self, ros, transport='raw'):
        self.ros = ros
        self.node = ros.node('fake_robot')
        self.joints = self.node.create_publisher(JointState, 'joint_states', SENSOR_PUB_QOS)
        kind = CompressedImage if transport == 'compressed' else Image
        suffix = '/compressed' if transport == 'compressed' else ''
        self.cams = {slot: self.node.create_publisher(kind, topic + suffix, SENSOR_PUB_QOS)
                     for slot, topic in (('base', 'camera/base/image_raw'), ('left_wrist', 'camera/wrist/image_raw'))}
        self.transport = transport
        self.requests = self.node.create_publisher(ChunkRequest, 'pi0/chunk_request', CHUNK_QOS)
        self.chunks = ros.collect(self.node, ActionChunk, 'pi0/action_chunk', CHUNK_QOS)
        self.diagnostics = ros.collect(self.node, DiagnosticArray, '/diagnostics')
        self.request_id = 0

    def now(self):
        return self.node.get_clock().now().nanoseconds * 1e-9

    def publish(self, positions=HOME, names=UR_JOINTS, stamp_offset=0.0, encoding='rgb8', data_bytes=None):
        stamp = self.now() + stamp_offset
        js = JointState(name=names, position=[float(p) for p in positions])
        js.header.stamp = to_time_msg(stamp)
        self.joints.publish(js)
        for slot, pub in self.cams.items():
            rgb = np.full((48, 64, 3), 120 if slot == 'base' else 60, np.uint8)
            if self.transport == 'compressed':
                buf = io.BytesIO()
                PILImage.fromarray(rgb).save(buf, format='JPEG')
                msg = CompressedImage(format='jpeg', data=buf.getvalue())
            else:
                msg = Image(height=48, width=64, encoding=encoding, step=64 * 3,
                            data=data_bytes if data_bytes is not None else rgb.tobytes())
            msg.header.stamp = to_time_msg(stamp)
            pub.publish(msg)
        return stamp

    def request(self):
        self.request_id += 1
        msg = ChunkRequest(request_id=self.request_id)
        msg.header.stamp = to_time_msg(self.now())
        self.requests.publish(msg)

    def last_diagnostic(self):
        return self.diagnostics[-1].status[0].message if self.diagnostics else ''

    def ask(self, timeout=10.0, **publish_kwargs):
        """Publish inputs, ask for a chunk; return (stamp, chunk or None)."""
        before = len(self.chunks)
        stamp = None
        for _ in range(int(timeout / 0.1)):
            stamp = self.publish(**publish_kwargs)
            self.ros.wait_for(lambda: False, 0.05)
            self.request()
            if self.ros.wait_for(lambda: len(self.chunks) > before, 0.05):
                return stamp, self.chunks[-1]
        return stamp, None


@pytest.fixture
def policy(ros):
    return ros.make(PolicyNode, {'embodiment': 'ur5e', 'checkpoint': 'random:pi0_tiny', 'hardware': False,
                                 'instruction': 'reach the red block', 'warmup': False})


def test_a_request_with_fresh_inputs_gets_a_chunk(ros, policy):
    robot = Robot(ros)
    stamp, chunk = robot.ask()
    assert chunk is not None
    assert chunk.embodiment == 'ur5e' and chunk.horizon == 50 and chunk.action_dim == 18 and chunk.valid_dims == 7
    assert chunk.request_id >= 1 and chunk.instruction == 'reach the red block'
    assert chunk.dt == pytest.approx(0.05)
    actions = np.asarray(chunk.actions).reshape(50, 18)
    assert np.all(actions[:, 7:] == 0) and np.all(np.isfinite(actions))
    assert to_sec(chunk.inference_time) > 0
    # the chunk is stamped with the observation (the joint state) it was computed from
    assert to_sec(chunk.header.stamp) <= robot.now() and robot.now() - to_sec(chunk.header.stamp) < 5


def test_compressed_cameras(ros):
    ros.make(PolicyNode, {'embodiment': 'ur5e', 'checkpoint': 'random:pi0_tiny', 'hardware': False, 'instruction': 'go',
                          'warmup': False, 'camera_transport': 'compressed'})
    _, chunk = Robot(ros, transport='compressed').ask()
    assert chunk is not None


@pytest.mark.parametrize('kwargs, reason', [
    ({'encoding': 'yuv422'}, "unsupported image encoding 'yuv422'"),
    ({'data_bytes': b'\x00' * 100}, 'bytes of data'),
    ({'names': UR_JOINTS[:5], 'positions': HOME[:5]}, 'wrist_3_joint'),
    ({'positions': [float('nan')] + HOME[1:]}, 'shoulder_pan_joint'),
    ({'stamp_offset': -3.0}, 's old'),
])
def test_bad_inputs_give_a_clear_error_and_no_chunk(ros, policy, kwargs, reason):
    robot = Robot(ros)

    def refused():
        robot.publish(**kwargs)
        robot.request()
        return reason in policy.last_error
    assert ros.wait_for(refused, 10, interval=0.1)      # discovery may take a moment under load
    assert ros.wait_for(lambda: reason in robot.last_diagnostic(), 3)
    assert not robot.chunks


def test_instruction_from_topic_and_service(ros, policy):
    robot = Robot(ros)
    pub = robot.node.create_publisher(String, 'pi0/instruction', LATCHED_QOS)
    pub.publish(String(data='reach the blue block'))
    assert ros.wait_for(lambda: policy.instruction == 'reach the blue block', 5)
    _, chunk = robot.ask()
    assert chunk.instruction == 'reach the blue block'
    reply = ros.call(robot.node, SetInstruction, 'pi0/set_instruction', SetInstruction.Request(instruction='wave'))
    assert reply.success and policy.instruction == 'wave'
    reply = ros.call(robot.node, SetInstruction, 'pi0/set_instruction', SetInstruction.Request(instruction='  '))
    assert not reply.success and policy.instruction == 'wave'


def test_instruction_and_ages_set_as_parameters_at_run_time(ros, policy):
    robot = Robot(ros)

    def set_param(name, value):
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return ros.call(robot.node, SetParameters, 'pi0_policy/set_parameters', request).results[0]
    assert set_param('instruction', 'stack the cups').successful
    _, chunk = robot.ask()
    assert chunk.instruction == 'stack the cups'
    empty = set_param('instruction', ' ')
    assert not empty.successful and 'empty' in empty.reason and policy.instruction == 'stack the cups'
    # an image age no frame can meet: refused from the next request on, and said so; then back
    assert ros.wait_for(lambda: not policy.busy, 30)               # the inferences asked for above are done
    assert set_param('max_image_age', 1e-4).successful
    assert not set_param('max_image_age', 0.0).successful           # the range refuses it
    before = len(robot.chunks)
    assert ros.wait_for(lambda: (robot.publish(), robot.request()) and 'image is' in robot.last_diagnostic(), 15)
    assert len(robot.chunks) == before
    assert set_param('max_image_age', 0.5).successful
    assert robot.ask()[1] is not None


@pytest.mark.parametrize('checkpoint', ['default', 'random:pi0_tiny'])
def test_a_simulation_policy_is_refused_on_hardware_unless_allowed(ros, checkpoint):
    from pi0_policy.loading import PolicyLoadError
    with pytest.raises(PolicyLoadError, match='refused on a real robot'):
        ros.make(PolicyNode, {'embodiment': 'ur5e', 'checkpoint': checkpoint, 'warmup': False})
    node = ros.make(PolicyNode, {'embodiment': 'ur5e', 'checkpoint': checkpoint, 'warmup': False,
                                 'allow_simulation_policy': True})
    assert node.policy is not None

