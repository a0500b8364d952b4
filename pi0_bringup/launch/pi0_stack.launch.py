"""The pi0_ros stack for one embodiment: policy node, chunk executor and robot driver.

Every per-robot launch file (ur5e.launch.py, ...) includes this one with its embodiment. Arguments:
    embodiment   robot (a file in pi0_common/embodiments)
    sim          true: the driver runs the simulated robot; false: the real robot's driver must run
    checkpoint   π₀ checkpoint folder, "default" or "random:<config>"; empty keeps the params file
    instruction  language instruction; empty keeps the params file
    namespace    namespace for all three nodes (remap robot topics with ROS remapping rules)
    params_file  parameters, one block per node (default: pi0_bringup/config/<embodiment>.yaml)
    switching    chunk switching mode: replace, crossfade, rtc, ensemble; empty keeps the params file
    log_level    ROS log level of the three nodes
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    ('embodiment', 'ur5e', 'Robot: a file name in pi0_common/embodiments (ur5e, franka, trossen_bimanual, ...).'),
    ('sim', 'false', 'true: run the simulated robot in the driver node; false: drive the real robot.'),
    ('checkpoint', '', 'π₀ checkpoint folder, "default", or "random:<config>"; empty keeps the params file.'),
    ('instruction', '', 'Language instruction for the policy; empty keeps the params file.'),
    ('namespace', '', 'Namespace of the policy, executor and driver nodes.'),
    ('params_file', '', 'Parameter file; empty = pi0_bringup/config/<embodiment>.yaml.'),
    ('switching', '', 'Chunk switching mode (replace, crossfade, rtc, ensemble); empty keeps the params file.'),
    ('log_level', 'info', 'Log level of the three nodes.'),
]


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    embodiment = arg['embodiment']
    params_file = arg['params_file'] or \
        f'{FindPackageShare("pi0_bringup").perform(context)}/config/{embodiment}.yaml'
    sim = arg['sim'].lower() in ('true', '1', 'yes')
    policy = {'embodiment': embodiment}
    if arg['checkpoint']:
        policy['checkpoint'] = arg['checkpoint']
    if arg['instruction']:
        policy['instruction'] = arg['instruction']
    executor = {'embodiment': embodiment}
    if arg['switching']:
        executor['switching'] = arg['switching']
    driver = {'embodiment': embodiment, 'sim': sim}
    common = dict(namespace=arg['namespace'], output='screen', emulate_tty=True,
                  arguments=['--ros-args', '--log-level', arg['log_level']])
    return [
        Node(package='pi0_drivers', executable='robot_driver', name='pi0_robot_driver',
             parameters=[params_file, driver], **common),
        Node(package='pi0_drivers', executable='chunk_executor', name='pi0_chunk_executor',
             parameters=[params_file, executor], **common),
        Node(package='pi0_policy', executable='policy_node', name='pi0_policy',
             parameters=[params_file, policy], **common),
    ]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
