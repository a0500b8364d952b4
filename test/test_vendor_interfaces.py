"""The vendor interface packages (vendor_interfaces/, built by `make setup` into install_vendor/ where
no installed package provides them): importable, and every type has the vendor's fields, in the
vendor's order with the vendor's types. The table is written from the vendors' files (the commits named
in vendor_interfaces/README.md), not from our copies, so a copy that drifted from the vendor fails here;
an installed vendor package has to pass it too."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / 'vendor_interfaces'
HINT = 'run make setup (it builds the missing vendor packages into install_vendor/) and source tools/env.sh'

# (package, interface module, type, part) -> [(field, type as get_fields_and_field_types() names it)]
# part: None for a msg, Request/Response for a srv, Goal/Result/Feedback for an action.
GRIPPER_STATE = [('position', 'double'), ('effort', 'double'), ('stalled', 'boolean'), ('reached_goal', 'boolean')]
FRANKA_RESULT = [('success', 'boolean'), ('error', 'string')]
FIELDS = {
    # ros-controls/control_msgs, master (Rolling/Kilted) 13dacdd8748264b6cd7cbbc9893c18c90e24be00
    ('control_msgs', 'msg', 'GripperCommand', None): [('position', 'double'), ('max_effort', 'double')],
    ('control_msgs', 'action', 'GripperCommand', 'Goal'): [('command', 'control_msgs/GripperCommand')],
    ('control_msgs', 'action', 'GripperCommand', 'Result'): GRIPPER_STATE,
    ('control_msgs', 'action', 'GripperCommand', 'Feedback'): GRIPPER_STATE,
    ('control_msgs', 'action', 'ParallelGripperCommand', 'Goal'): [('command', 'sensor_msgs/JointState')],
    ('control_msgs', 'action', 'ParallelGripperCommand', 'Result'): [
        ('state', 'sensor_msgs/JointState'), ('stalled', 'boolean'), ('reached_goal', 'boolean')],
    ('control_msgs', 'action', 'ParallelGripperCommand', 'Feedback'): [('state', 'sensor_msgs/JointState')],
    # Interbotix/interbotix_ros_core, jazzy (= rolling) bf127b474e0554b93ef18b51becba38da9cbc255
    ('interbotix_xs_msgs', 'msg', 'JointGroupCommand', None): [('name', 'string'), ('cmd', 'sequence<float>')],
    ('interbotix_xs_msgs', 'msg', 'JointSingleCommand', None): [('name', 'string'), ('cmd', 'float')],
    ('interbotix_xs_msgs', 'srv', 'OperatingModes', 'Request'): [
        ('cmd_type', 'string'), ('name', 'string'), ('mode', 'string'), ('profile_type', 'string'),
        ('profile_velocity', 'int32'), ('profile_acceleration', 'int32')],
    ('interbotix_xs_msgs', 'srv', 'OperatingModes', 'Response'): [],
    # frankarobotics/franka_ros2, jazzy 29cb85a677b8f08888a0eb6f553ba89666ef64f7
    ('franka_msgs', 'msg', 'GraspEpsilon', None): [('inner', 'double'), ('outer', 'double')],
    ('franka_msgs', 'action', 'Move', 'Goal'): [('width', 'double'), ('speed', 'double')],
    ('franka_msgs', 'action', 'Move', 'Result'): FRANKA_RESULT,
    ('franka_msgs', 'action', 'Move', 'Feedback'): [('current_width', 'double')],
    ('franka_msgs', 'action', 'Grasp', 'Goal'): [
        ('width', 'double'), ('epsilon', 'franka_msgs/GraspEpsilon'), ('speed', 'double'), ('force', 'double')],
    ('franka_msgs', 'action', 'Grasp', 'Result'): FRANKA_RESULT,
    ('franka_msgs', 'action', 'Grasp', 'Feedback'): [('current_width', 'double')],
    # ARXroboticsX/ARX_X5, main c78328785ea23a81d908e1dcc551eca992f2f1e9, ROS2/X5_ws/src/arxmsgros2/arx5_arm_msg
    ('arx5_arm_msg', 'msg', 'RobotCmd', None): [
        ('header', 'std_msgs/Header'), ('end_pos', 'double[6]'), ('joint_pos', 'double[6]'), ('gripper', 'double'),
        ('mode', 'int64')],
    ('arx5_arm_msg', 'msg', 'RobotStatus', None): [
        ('header', 'std_msgs/Header'), ('end_pos', 'double[6]'), ('joint_pos', 'double[7]'), ('joint_vel', 'double[7]'),
        ('joint_cur', 'double[7]')],
}
PACKAGES = sorted({key[0] for key in FIELDS})


def interface(package: str, module: str, name: str, part: str | None):
    try:
        mod = importlib.import_module(f'{package}.{module}')
    except ImportError as exc:
        pytest.fail(f'{package}.{module} is not importable ({exc}): {HINT}')
    cls = getattr(mod, name)
    return getattr(cls, part) if part else cls


@pytest.mark.parametrize('key', list(FIELDS), ids=lambda k: '/'.join(p for p in k if p))
def test_each_type_has_the_vendors_fields_in_order(key):
    cls = interface(*key)
    assert list(cls.get_fields_and_field_types().items()) == FIELDS[key]


def test_defaults_are_the_vendors():
    from franka_msgs.msg import GraspEpsilon
    assert (GraspEpsilon().inner, GraspEpsilon().outer) == (0.005, 0.005)


@pytest.mark.parametrize('package', PACKAGES)
def test_ours_never_shadows_an_installed_package(package):
    """A package built into install_vendor/ is one that the paths without install_vendor/ lack."""
    if not (ROOT / 'install_vendor' / package).is_dir():
        pytest.skip(f'{package} is installed, install_vendor/ does not hold it')
    ours = str(ROOT / 'install_vendor')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                                        if p and not p.startswith(ours))
    code = ('import importlib, sys\n'
            'for module in ("msg", "srv", "action"):\n'
            '    try:\n'
            '        importlib.import_module(sys.argv[1] + "." + module)\n'
            '    except ImportError:\n'
            '        continue\n'
            '    sys.exit(f"{sys.argv[1]}.{module} is importable without install_vendor/")\n')
    probe = subprocess.run([sys.executable, '-c', code, package], env=env, capture_output=True, text=True, cwd='/')
    assert probe.returncode == 0, f'{probe.stderr.strip()}, yet install_vendor/ holds {package} too'


def test_every_source_cites_its_vendor_commit_and_is_listed():
    readme = (SOURCES / 'README.md').read_text()
    assert (SOURCES / 'COLCON_IGNORE').is_file(), 'a workspace-wide colcon build would build them into install/'
    files = sorted(p for p in SOURCES.rglob('*') if p.suffix in ('.msg', '.srv', '.action'))
    assert {(p.parent.parent.name, p.parent.name, p.stem) for p in files} == {key[:3] for key in FIELDS}
    for path in files:
        head = path.read_text().splitlines()[:3]
        assert head[0].startswith('# Vendor definition, verbatim below this header'), path
        assert re.match(r'# Source: github\.com/[\w.-]+/[\w.-]+, \S+/' + re.escape(path.name) + '$', head[1]), path
        assert re.search(r'\b[0-9a-f]{40}\.$', head[2]), path
        assert f'`{path.parent.parent.name}`' in readme and f'`{path.parent.name}/{path.stem}`' in readme, path
