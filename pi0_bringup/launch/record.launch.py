"""Teleoperation recording: one rosbag2 bag per episode, episodes started and stopped by service.

    ros2 launch pi0_bringup record.launch.py embodiment:=trossen_bimanual teleop:=leader output_dir:=~/demos
    ros2 service call /pi0/recorder/start_episode pi0_msgs/srv/StartEpisode "{task: 'fold the towel'}"
    ros2 service call /pi0/recorder/stop_episode pi0_msgs/srv/StopEpisode "{success: true}"

Nodes (all in `namespace`; the list and the parameters come from pi0_bringup.stack_spec):
    pi0_recorder         always: records the embodiment's cameras, joint states, odometry, pi0/command,
                         the driver's interface topics, pi0/instruction and the episode events
    pi0_teleop           teleop:=leader (leader arms, and a Twist on teleop/cmd_vel for a base) or
                         teleop:=twist (base from teleop/cmd_vel, arms hold)
    pi0_scripted_expert  teleop:=expert (simulation only): the expert/run_instruction action
    pi0_robot_driver     turns pi0/command into the robot's interface; started when sim:=true or a
                         teleop source is (driver:=auto), or as driver:=true|false says. On a real robot
                         start the vendor drivers (ur_robot_driver, xs_sdk, ...) separately first.
    pi0_simulator        sim:=true: the simulated robot on the vendor topics, sim/reset, sim/task_state
The chunk executor and the policy do not run: during teleop the operator owns pi0/command.
When the recorder exits (Ctrl-C, or a bad parameter), the whole launch shuts down.

Arguments:
    embodiment        robot (a file in pi0_common/embodiments)
    output_dir        folder for the episode bags (required)
    camera_transport  raw or compressed, for every camera (recorded and, in simulation, published)
    teleop            none, leader, twist or expert
    sim               true: also start the simulator node
    driver            auto, true or false: whether to start the pi0 driver node
    namespace         namespace of every node
    params_file       parameters, one block per node; empty: pi0_bringup/config/<embodiment>.yaml if it exists
    disk_floor_mb     free space (MiB) below which recording stops cleanly
    clock             wall or lockstep (sim only: the simulator owns time, the others run on /clock)
    physics           kinematic or aloha_mujoco (sim only; trossen_bimanual: gym-aloha's MuJoCo scene)
    log_level         ROS log level of the nodes
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler, Shutdown
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from pi0_bringup.stack_spec import RECORDER, recording_stack

ARGUMENTS = [
    ('embodiment', 'ur5e', 'Robot: a file name in pi0_common/embodiments (ur5e, trossen_bimanual, ...).', None),
    ('output_dir', '', 'Folder for the episode bags (created if missing). Required.', None),
    ('camera_transport', 'raw', 'Record cameras raw (sensor_msgs/Image) or compressed (<topic>/compressed).',
     ['raw', 'compressed']),
    ('teleop', 'none', 'Teleop source: none, leader (leader arms + Twist base), twist (Twist base only) or '
                       'expert (the scripted expert, simulation only).', ['none', 'leader', 'twist', 'expert']),
    ('sim', 'false', 'true: also start the simulator node; false: a real robot.', ['true', 'false']),
    ('driver', 'auto', 'Start the pi0 driver node: auto (when sim or teleop), true or false.',
     ['auto', 'true', 'false']),
    ('namespace', '', 'Namespace of every node.', None),
    ('params_file', '', 'Parameter file; empty = pi0_bringup/config/<embodiment>.yaml when it exists.', None),
    ('disk_floor_mb', '1024.0', 'Free space (MiB) below which the running episode stops cleanly.', None),
    ('clock', '', 'wall or lockstep (with sim:=true: the simulator owns time, the other nodes run on /clock); '
                  'empty keeps the params file (wall).', ['', 'wall', 'lockstep']),
    ('physics', '', 'Simulator physics: kinematic, or aloha_mujoco for trossen_bimanual; empty keeps the params '
                    'file (kinematic).', ['', 'kinematic', 'aloha_mujoco']),
    ('log_level', 'info', 'Log level of the nodes.', None),
]


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _, _ in ARGUMENTS}
    specs = recording_stack(arg['embodiment'], output_dir=arg['output_dir'], camera_transport=arg['camera_transport'],
                            teleop=arg['teleop'], sim=arg['sim'] == 'true', driver=arg['driver'],
                            namespace=arg['namespace'], params_file=arg['params_file'],
                            disk_floor_mb=float(arg['disk_floor_mb']), clock=arg['clock'], physics=arg['physics'])
    actions = []
    for s in specs:
        node = Node(package=s.package, executable=s.executable, name=s.name, namespace=s.namespace,
                    parameters=[s.parameters], output='screen', emulate_tty=True,
                    arguments=['--ros-args', '--log-level', arg['log_level']])
        actions.append(node)
        if s.name == RECORDER:
            actions.append(RegisterEventHandler(OnProcessExit(
                target_action=node, on_exit=[Shutdown(reason='the recorder exited')])))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text, choices=choices)
         for name, default, text, choices in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
