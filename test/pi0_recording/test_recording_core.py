"""The recorder's pure parts: bag names and episode indices, the disk floor, topic selection and
QoS adaptation, message definitions for pi0_msgs and vendor types, and one bag written and read
back with rosbags."""

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability, QosReliability

from pi0_common.embodiment import load_embodiment
from pi0_recording.disk import DiskGuard
from pi0_recording.episode_bag import BagClosedError, EpisodeBag
from pi0_recording.naming import (
    BagPathError,
    bag_name,
    check_prefix,
    new_bag_path,
    next_episode_index,
    parse_bag_name,
)
from pi0_recording.topics import adapted_request, bag_qos, interface_topics, recorded_topics
from pi0_recording.typestore import TypeRegistry, UnknownTypeError, store_for_distro

WHEN = datetime(2026, 3, 4, 5, 6, 7)


# ------------------------------------------------------------------------------------ naming
def test_bag_name_round_trips():
    name = bag_name('ur5e', 42, WHEN)
    assert name == 'ur5e_ep000042_20260304-050607'
    assert parse_bag_name(name) == ('ur5e', 42, '20260304-050607')
    assert parse_bag_name('my_rig_v2_ep1234567_20260304-050607') == ('my_rig_v2', 1234567, '20260304-050607')
    for other in ('ur5e_ep42_20260304-050607', 'notes.txt', 'ur5e_ep000001_2026'):
        assert parse_bag_name(other) is None


def test_next_index_continues_after_the_highest_bag_of_any_prefix(tmp_path):
    assert next_episode_index(tmp_path / 'missing') == 0
    assert next_episode_index(tmp_path) == 0
    (tmp_path / bag_name('ur5e', 3, WHEN)).mkdir()
    (tmp_path / bag_name('other', 7, WHEN)).mkdir()       # a crashed bag without metadata counts too
    (tmp_path / 'ur5e_ep000099_junk').mkdir()             # not a bag name: ignored
    assert next_episode_index(tmp_path) == 8
    index, path = new_bag_path(tmp_path, 'ur5e', WHEN)
    assert (index, path.name) == (8, 'ur5e_ep000008_20260304-050607')
    assert not path.exists()
    assert new_bag_path(tmp_path, 'ur5e', WHEN, min_index=12)[0] == 12


def test_prefix_must_be_a_plain_name():
    assert check_prefix('ur5e_lab-2.a') is None
    for bad in ('', '../x', 'a/b', '_x', 'a b'):
        assert check_prefix(bad)


def test_existing_bag_is_never_reopened(tmp_path):
    types = TypeRegistry('kilted')
    path = tmp_path / bag_name('ur5e', 0, WHEN)
    path.mkdir()
    (path / 'keep.mcap').write_bytes(b'precious')
    with pytest.raises(BagPathError, match='refusing to overwrite'):
        EpisodeBag(path, types)
    assert (path / 'keep.mcap').read_bytes() == b'precious'


# ------------------------------------------------------------------------------------ disk
def test_disk_guard_trips_below_the_floor_and_resumes_with_margin():
    guard = DiskGuard(1000.0)
    assert guard.update(5000.0) is None and not guard.low
    assert guard.update(999.0) == 'low' and guard.low
    assert guard.update(500.0) is None                      # still low: said once
    assert guard.update(1010.0) is None and guard.low       # within the 5 % margin
    assert guard.update(1100.0) == 'ok' and not guard.low
    assert 'floor 1000 MiB' in guard.describe() and '1100 MiB' in guard.describe()
    guard.set_floor(0.0)
    assert guard.update(0.0) is None                        # a zero floor never trips


# ------------------------------------------------------------------------------------ topics
def test_ur5e_topics_follow_the_embodiment_file():
    emb = load_embodiment('ur5e')
    specs = {s.name: s for s in recorded_topics(emb)}
    assert specs['camera/base/image_raw'].msgtype == 'sensor_msgs/msg/Image'
    assert specs['camera/wrist/image_raw'].role == 'camera'
    assert specs['joint_states'].msgtype == 'sensor_msgs/msg/JointState'
    assert specs['pi0/command'].msgtype == 'pi0_msgs/msg/ExecutorCommand'
    assert specs['pi0/instruction'].msgtype == 'std_msgs/msg/String'
    interface = {n for n, s in specs.items() if s.role == 'interface'}
    # the Robotiq gripper goes by action (no topic to record): the trajectory controller is all there is
    assert interface == {'scaled_joint_trajectory_controller/joint_trajectory'}
    assert all(specs[n].msgtype is None for n in interface)        # the graph says what they carry
    compressed = {s.name: s.msgtype for s in recorded_topics(emb, 'compressed')}
    assert compressed['camera/base/image_raw/compressed'] == 'sensor_msgs/msg/CompressedImage'
    assert 'camera/base/image_raw' not in compressed
    with pytest.raises(ValueError, match='camera_transport'):
        recorded_topics(emb, 'theora')


def test_mobile_aloha_records_both_arms_the_base_and_odometry():
    emb = load_embodiment('trossen_mobile')
    specs = {s.name: s for s in recorded_topics(emb, extra=('tf', 'tf'))}
    assert specs['mobile_base/odom'].msgtype == 'nav_msgs/msg/Odometry'
    for side in ('left', 'right'):
        assert specs[f'follower_{side}/joint_states'].role == 'joint_states'
        assert specs[f'follower_{side}/commands/joint_group'].role == 'interface'
        assert specs[f'follower_{side}/commands/joint_single'].role == 'interface'
    assert specs['mobile_base/cmd_vel'].role == 'interface'
    assert specs['tf'].role == 'extra'
    assert sum(s.role == 'camera' for s in specs.values()) == 3
    assert interface_topics({'driver': 'arx', 'command_topic': 'a', 'gripper_action': 'g', 'topic': 'b'}) == ['a', 'b']


def _profile(reliability, durability):
    zero = SimpleNamespace(nanoseconds=0)
    return SimpleNamespace(history=1, depth=10, reliability=reliability, durability=durability, deadline=zero,
                           lifespan=zero, liveliness=1, liveliness_lease_duration=zero,
                           avoid_ros_namespace_conventions=False)


def test_subscription_qos_matches_every_publisher():
    reliable_latched = bag_qos(_profile(1, 1))
    assert reliable_latched.reliability == QosReliability.RELIABLE
    assert reliable_latched.durability == QosDurability.TRANSIENT_LOCAL
    best_effort = bag_qos(_profile(2, 2))
    assert adapted_request([reliable_latched]) == (True, True)
    assert adapted_request([reliable_latched, best_effort]) == (False, False)
    assert adapted_request([]) == (False, False)
    weird = bag_qos(_profile(99, 1))                        # a value this rosbags does not know
    assert weird.reliability == QosReliability.UNKNOWN


# ------------------------------------------------------------------------------------ types
def test_types_come_from_the_distro_store_and_installed_msg_files():
    assert store_for_distro('humble').value == 'ros2_humble'
    assert store_for_distro('unknown-distro').value == 'latest'
    types = TypeRegistry('kilted')
    assert not types.known('pi0_msgs/msg/EpisodeEvent')
    names = types.register_package('pi0_msgs')
    assert 'pi0_msgs/msg/ExecutorCommand' in names and 'pi0_msgs/msg/EpisodeEvent' in names
    text, rihs01 = types.definition('pi0_msgs/msg/ExecutorCommand')
    assert text.startswith('uint8 MODE_ACTIVE=0') and 'float32[] positions' in text and 'MSG: std_msgs/Header' in text
    # The hash ROS 2 itself generated for the installed type: the bag describes the real bytes.
    share = Path(__import__('ament_index_python').get_package_share_directory('pi0_msgs'))
    assert rihs01 in (share / 'msg' / 'ExecutorCommand.json').read_text()


def test_vendor_types_are_registered_with_their_dependencies(tmp_path):
    (tmp_path / 'vendor_msgs' / 'msg').mkdir(parents=True)
    (tmp_path / 'vendor_msgs' / 'msg' / 'Group.msg').write_text('string name\nSingle[] members\n')
    (tmp_path / 'vendor_msgs' / 'msg' / 'Single.msg').write_text('std_msgs/Header header\nfloat32 cmd\n')

    def share_dir(package):
        return tmp_path / package if (tmp_path / package).is_dir() else None

    types = TypeRegistry('kilted', share_dir=share_dir)
    text, _ = types.definition('vendor_msgs/msg/Group')
    assert types.known('vendor_msgs/msg/Single')
    assert 'MSG: vendor_msgs/Single' in text
    with pytest.raises(UnknownTypeError, match='interbotix_xs_msgs is not installed'):
        types.ensure('interbotix_xs_msgs/msg/JointGroupCommand')
    with pytest.raises(UnknownTypeError, match='not a message type'):
        types.ensure('vendor_msgs/srv/Thing')


# ------------------------------------------------------------------------------------ one bag
def test_episode_bag_is_a_version_8_bag_that_reads_back(tmp_path):
    types = TypeRegistry('kilted')
    types.register_package('pi0_msgs')
    path = tmp_path / bag_name('ur5e', 0, WHEN)
    bag = EpisodeBag(path, types, compression='zstd')
    qos = [bag_qos(_profile(1, 2))]
    bag.add_topic('/joint_states', 'sensor_msgs/msg/JointState', qos)
    bag.add_topic('/joint_states', 'sensor_msgs/msg/JointState', qos)    # declared twice: no second connection
    bag.add_topic('/silent', 'std_msgs/msg/String', [])
    ts = types.typestore
    joint_state, header, stamp = (ts.types[n] for n in ('sensor_msgs/msg/JointState', 'std_msgs/msg/Header',
                                                        'builtin_interfaces/msg/Time'))
    for i in range(50):
        msg = joint_state(header(stamp(i, 0), 'base'), ['a', 'b'], np.array([i, -i], dtype=float), np.zeros(0),
                          np.zeros(0))
        bag.write('/joint_states', 1_000_000_000 + i * 10_000_000, bytes(ts.serialize_cdr(msg, msg.__msgtype__)))
    bag.set_custom_data({'task': 'reach the red block', 'success': 'true'})
    bag.close()
    bag.close()                                                           # idempotent
    with pytest.raises(BagClosedError):
        bag.write('/joint_states', 0, b'')

    meta = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['version'] == 8 and meta['storage_identifier'] == 'mcap'
    assert meta['custom_data'] == {'task': 'reach the red block', 'success': 'true'}
    topics = {t['topic_metadata']['name']: t for t in meta['topics_with_message_count']}
    assert topics['/joint_states']['message_count'] == 50 and topics['/silent']['message_count'] == 0
    # Humble parses offered_qos_profiles as a YAML string of a list of numeric profiles.
    offered = topics['/joint_states']['topic_metadata']['offered_qos_profiles']
    assert isinstance(offered, str) and yaml.safe_load(offered)[0]['reliability'] == 1
    assert (path / meta['relative_file_paths'][0]).is_file()

    with AnyReader([path]) as reader:
        got = [(t, reader.deserialize(raw, c.msgtype)) for c, t, raw in reader.messages()]
    assert [t for t, _ in got] == [1_000_000_000 + i * 10_000_000 for i in range(50)]
    assert [m.position.tolist() for _, m in got] == [[float(i), -float(i)] for i in range(50)]
    assert [(m.header.stamp.sec, m.header.frame_id, list(m.name)) for _, m in got][-1] == (49, 'base', ['a', 'b'])


def test_the_pure_parts_import_no_ros():
    modules = ['pi0_recording.naming', 'pi0_recording.disk', 'pi0_recording.typestore',
               'pi0_recording.topics', 'pi0_recording.episode_bag', 'pi0_recording.teleop.leader',
               'pi0_recording.teleop.commander', 'pi0_sim.expert']
    code = (f'import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; '
            'bad = [m for m in sys.modules if m.split(".")[0] in ("rclpy", "sensor_msgs", "std_msgs", "pi0_msgs")]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True)
