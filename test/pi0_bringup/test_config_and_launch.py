"""Parameter files and launch files stay in step with the nodes: every configured parameter is declared by
its node (the simulator's too), the launch arguments are documented and default to what stack_spec
assumes, and the launch files (when launch is installed) start the executables stack_spec names."""

import ast
import importlib.util
import inspect
import os
from pathlib import Path

import pytest

from pi0_bringup.stack_spec import (
    DRIVER,
    EXECUTOR,
    POLICY,
    SIMULATOR,
    config_dir,
    node_parameters,
    recording_stack,
    robot_stack,
)
from pi0_drivers import driver_node, executor_node
from pi0_policy import policy_node
from pi0_sim import simulator_node

DECLARED = {
    DRIVER: {p.name for p in driver_node.PARAMETERS},
    EXECUTOR: {p.name for p in executor_node.PARAMETERS},
    POLICY: {p.name for p in policy_node.PARAMETERS},
    SIMULATOR: {p.name for p in simulator_node.PARAMETERS},
}
CONFIGS = sorted(config_dir().glob('*.yaml'))
LAUNCH_DIR = config_dir().parent / 'launch'
README = Path(__file__).resolve().parents[2] / 'README.md'


def test_there_are_configs():
    assert any(p.stem == 'ur5e' for p in CONFIGS)


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.stem)
def test_every_configured_parameter_is_declared(config):
    for node, declared in DECLARED.items():
        configured = node_parameters(config, node)
        assert configured, f'{config.name}: no block for {node}'
        unknown = set(configured) - declared
        assert not unknown, f'{config.name}: {node} has no parameter(s) {sorted(unknown)}'


def launch_arguments(launch_file: str) -> list[tuple]:
    """The ARGUMENTS rows of a launch file, read without launch installed."""
    tree = ast.parse((LAUNCH_DIR / launch_file).read_text())
    args = next(n for n in ast.walk(tree)
                if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS')
    return [tuple(ast.literal_eval(e) for e in row.elts) for row in args.value.elts]


def test_stack_launch_arguments_are_documented_in_the_readme():
    readme = README.read_text()
    for name, *_ in launch_arguments('pi0_stack.launch.py'):
        if name != 'embodiment':
            assert f'`{name}`' in readme, f'launch argument {name} is not documented in README.md'


@pytest.mark.parametrize('launch_file, spec_function', [('pi0_stack.launch.py', robot_stack),
                                                         ('record.launch.py', recording_stack)])
def test_launch_defaults_are_the_spec_defaults(launch_file, spec_function):
    """An argument left out on the command line and one left out by a tool mean the same."""
    signature = inspect.signature(spec_function).parameters
    for name, default, *_ in launch_arguments(launch_file):
        if name == 'log_level':          # not a parameter: the runner takes it separately
            continue
        expected = signature[name].default
        as_text = str(expected).lower() if isinstance(expected, bool) else str(expected)
        assert default == as_text, f'{launch_file}: {name} defaults to {default!r}, stack_spec to {expected!r}'


launch_missing = importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') is None


@pytest.mark.skipif(launch_missing, reason='launch/launch_ros are not installed here (not on PyPI); run by hand '
                                           'with a ROS 2 install')
@pytest.mark.parametrize('launch_file', sorted(LAUNCH_DIR.glob('*.launch.py')), ids=lambda p: p.name)
def test_launch_files_start_the_spec_nodes(launch_file):
    from launch import LaunchContext, LaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch_ros.actions import Node

    description = PythonLaunchDescriptionSource(str(launch_file)).get_launch_description(LaunchContext())
    assert isinstance(description, LaunchDescription)
    declared = {a.name for a in description.get_launch_arguments()}
    if launch_file.name != 'record.launch.py':
        assert {'sim', 'checkpoint', 'instruction', 'namespace'} <= declared
    context = LaunchContext()
    context.launch_configurations.update({'sim': 'true', 'output_dir': '/tmp/bags', 'teleop': 'expert'})
    nodes = []

    def walk(entities):        # in order, depth first: arguments are declared before they are used
        for entity in entities:
            if isinstance(entity, Node):
                nodes.append(entity)
            else:
                walk(entity.visit(context) or [])
    walk(description.entities)
    assert nodes, f'{launch_file.name} starts no node'
    assert ('pi0_sim', 'simulator') in {(n.node_package, n.node_executable) for n in nodes}, \
        'sim:=true starts no simulator'
    prefixes = os.environ['AMENT_PREFIX_PATH'].split(os.pathsep)
    for node in nodes:
        package, executable = node.node_package, node.node_executable
        assert any((Path(p) / 'lib' / package / executable).exists() for p in prefixes), \
            f'{launch_file.name}: no executable {package}/{executable} in {prefixes}'
