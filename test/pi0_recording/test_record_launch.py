"""record.launch.py: its arguments are the documented ones, and (where launch is installed) each
argument combination starts the nodes it says, with the parameters it says."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from pi0_recording import recorder_node
from pi0_recording.teleop import teleop_node

LAUNCH_FILE = Path(__file__).resolve().parents[2] / 'pi0_bringup' / 'launch' / 'record.launch.py'


def declared_arguments() -> list[str]:
    tree = ast.parse(LAUNCH_FILE.read_text())
    args = next(n for n in ast.walk(tree)
                if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS')
    return [elt.elts[0].value for elt in args.value.elts]


def test_every_argument_is_documented_and_every_documented_one_exists():
    doc = ast.get_docstring(ast.parse(LAUNCH_FILE.read_text()))
    documented = [line.split()[0] for line in doc.split('Arguments:')[1].strip().splitlines() if line.strip()]
    assert documented == declared_arguments()


launch_missing = importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') is None


def nodes_for(**arguments) -> dict[str, dict]:
    """Node name -> parameters (the dicts given to the node) for these launch arguments."""
    from launch import LaunchContext
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch_ros.actions import Node

    context = LaunchContext()
    context.launch_configurations.update(arguments)
    description = PythonLaunchDescriptionSource(str(LAUNCH_FILE)).get_launch_description(context)
    found = {}

    def walk(entities):
        for entity in entities:
            if isinstance(entity, Node):
                params = {}
                # launch_ros has no public getter for the parameters before they are evaluated; a
                # typo here would pass silently at run time (nodes ignore undeclared overrides).
                for p in entity._Node__parameters:
                    if isinstance(p, dict):
                        params.update({k[0].perform(context) if isinstance(k, tuple) else k: v for k, v in p.items()})
                found[entity.node_executable] = params
            else:
                walk(entity.visit(context) or [])
    walk(description.entities)
    return found


@pytest.mark.skipif(launch_missing, reason='launch/launch_ros are not installed here (not on PyPI); run it where '
                                           'a ROS 2 distro install provides them')
def test_argument_combinations_start_the_right_nodes():
    only = nodes_for(output_dir='/tmp/bags')
    assert set(only) == {'recorder'}
    leader = nodes_for(output_dir='/tmp/bags', teleop='leader', sim='true', camera_transport='compressed',
                       embodiment='trossen_bimanual')
    assert set(leader) == {'recorder', 'teleop', 'robot_driver', 'simulator'}     # sim:=true adds the simulator
    declared = {p.name for p in recorder_node.PARAMETERS} | {recorder_node.EXTRA_TOPICS}
    assert set(leader['recorder']) <= declared
    assert set(leader['teleop']) <= {p.name for p in teleop_node.PARAMETERS}
    twist = nodes_for(output_dir='/tmp/bags', teleop='twist', driver='false')
    assert set(twist) == {'recorder', 'teleop'}
