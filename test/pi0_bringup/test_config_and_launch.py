"""Parameter files and launch files stay in step with the nodes: every configured parameter is declared by
its node, and the launch files parse and name executables that exist (when launch is installed)."""

import importlib.util
import os
from pathlib import Path

import pytest

from pi0_bringup.runner import config_dir, node_parameters
from pi0_drivers import driver_node, executor_node
from pi0_policy import policy_node

DECLARED = {
    'pi0_robot_driver': {p.name for p in driver_node.PARAMETERS},
    'pi0_chunk_executor': {p.name for p in executor_node.PARAMETERS},
    'pi0_policy': {p.name for p in policy_node.PARAMETERS},
}
CONFIGS = sorted(config_dir().glob('*.yaml'))
LAUNCH_DIR = config_dir().parent / 'launch'


def test_there_are_configs():
    assert any(p.stem == 'ur5e' for p in CONFIGS)


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.stem)
def test_every_configured_parameter_is_declared(config):
    for node, declared in DECLARED.items():
        unknown = set(node_parameters(config, node)) - declared
        assert not unknown, f'{config.name}: {node} has no parameter(s) {sorted(unknown)}'


def test_stack_launch_arguments_are_documented_in_the_readme():
    import ast
    tree = ast.parse((LAUNCH_DIR / 'pi0_stack.launch.py').read_text())
    args = next(n for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.targets[0].id == 'ARGUMENTS')
    names = [elt.elts[0].value for elt in args.value.elts]
    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    for name in names:
        if name != 'embodiment':
            assert f'`{name}`' in readme, f'launch argument {name} is not documented in README.md'


launch_missing = importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') is None


@pytest.mark.skipif(launch_missing, reason='launch/launch_ros are not installed here (not on PyPI); run by hand '
                                           'with a ROS 2 install or ../shared/tools/ros2-harness.sh')
@pytest.mark.parametrize('launch_file', sorted(LAUNCH_DIR.glob('*.launch.py')), ids=lambda p: p.name)
def test_launch_files_parse_and_name_existing_executables(launch_file):
    from launch import LaunchContext, LaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch_ros.actions import Node

    description = PythonLaunchDescriptionSource(str(launch_file)).get_launch_description(LaunchContext())
    assert isinstance(description, LaunchDescription)
    declared = {a.name for a in description.get_launch_arguments()}
    if launch_file.name != 'record.launch.py':
        assert {'sim', 'checkpoint', 'instruction', 'namespace'} <= declared
    context = LaunchContext()
    context.launch_configurations.update({'sim': 'true'})
    nodes = []

    def walk(entities):        # in order, depth first: arguments are declared before they are used
        for entity in entities:
            if isinstance(entity, Node):
                nodes.append(entity)
            else:
                walk(entity.visit(context) or [])
    walk(description.entities)
    assert nodes, f'{launch_file.name} starts no node'
    prefixes = os.environ['AMENT_PREFIX_PATH'].split(os.pathsep)
    for node in nodes:
        package, executable = node.node_package, node.node_executable
        assert any((Path(p) / 'lib' / package / executable).exists() for p in prefixes), \
            f'{launch_file.name}: no executable {package}/{executable} in {prefixes}'
