"""The pi0_ros stack for one embodiment: policy node, chunk executor, robot driver and, with sim:=true,
the simulator node (which stands in for the robot's own drivers on the same topics).

Every per-robot launch file (ur5e.launch.py, ...) includes this one with its embodiment. The node list
and the parameters come from pi0_bringup.stack_spec, which the tools' process runner uses too.
Arguments:
    embodiment   robot (a file in pi0_common/embodiments)
    sim          true: also start the simulator node; false: the real robot's drivers must run
    checkpoint   π₀ checkpoint folder, "default" or "random:<config>"; empty keeps the params file
    instruction  language instruction; empty keeps the params file
    namespace    namespace for every node (remap robot topics with ROS remapping rules)
    params_file  parameters, one block per node (default: pi0_bringup/config/<embodiment>.yaml)
    switching    chunk switching mode: replace, crossfade, rtc, ensemble; empty keeps the params file
    conventions  a checkpoint's conventions (preset, file or auto); the executor takes its rate and steps
    clock        wall or lockstep (sim only: the simulator owns time, the others run on /clock)
    physics      kinematic or aloha_mujoco (sim only; trossen_bimanual: gym-aloha's MuJoCo scene)
    log_level    ROS log level of the nodes

A node that exits with an error stops the whole stack (see _nodes).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from pi0_bringup.stack_spec import robot_stack, truthy

ARGUMENTS = [
    ('embodiment', 'ur5e', 'Robot: a file name in pi0_common/embodiments (ur5e, franka, trossen_bimanual, ...).'),
    ('sim', 'false', 'true: also start the simulator node; false: drive the real robot.'),
    ('checkpoint', '', 'π₀ checkpoint folder, "default", or "random:<config>"; empty keeps the params file.'),
    ('instruction', '', 'Language instruction for the policy; empty keeps the params file.'),
    ('namespace', '', 'Namespace of every node of the stack.'),
    ('params_file', '', 'Parameter file; empty = pi0_bringup/config/<embodiment>.yaml.'),
    ('switching', '', 'Chunk switching mode (replace, crossfade, rtc, ensemble); empty keeps the params file.'),
    ('conventions', '', "A checkpoint's conventions: an openpi preset (pi0_droid, pi0_aloha_towel, ...), a "
     'pi0_conventions.yaml or auto; also sets the executor to the rate and steps it was trained for.'),
    ('clock', '', 'wall or lockstep (with sim:=true): in lock-step the simulator owns time and advances a control '
     'tick once its command has come and no chunk request is outstanding; empty keeps the params file (wall).'),
    ('physics', '', 'Simulator physics: kinematic, or aloha_mujoco for trossen_bimanual (gym-aloha); empty keeps '
     'the params file (kinematic).'),
    ('log_level', 'info', 'Log level of the nodes.'),
]


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    specs = robot_stack(arg['embodiment'], sim=truthy(arg['sim']), checkpoint=arg['checkpoint'],
                        instruction=arg['instruction'], namespace=arg['namespace'], params_file=arg['params_file'],
                        switching=arg['switching'], conventions=arg['conventions'], clock=arg['clock'],
                        physics=arg['physics'])
    # The resolved parameters go in as one dict per node, exactly what the process runner writes to its
    # per-node params file, so both ways of starting the stack give every node the same values.
    nodes = [Node(package=s.package, executable=s.executable, name=s.name, namespace=s.namespace,
                  parameters=[s.parameters], remappings=list(s.remaps.items()), output='screen', emulate_tty=True,
                  arguments=['--ros-args', '--log-level', arg['log_level']]) for s in specs]
    # A node that ends with an error (a bad argument or parameter at start, a crash later) stops the whole
    # stack, as the process runner does: nothing stays half-started behind it, and a driver that stops
    # leaves the robot holding. A clean exit (code 0, as at Ctrl-C) changes nothing.
    return nodes + [RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_stop_on_error(spec.name)))
                    for node, spec in zip(nodes, specs, strict=True)]


def _stop_on_error(name: str):
    def on_exit(event, _context):
        if event.returncode != 0:
            # An error raised here is how launch itself reports a failure: one line ("Caught exception in
            # launch"), the whole launch shut down, and `ros2 launch` exits with code 1.
            raise NodeExitError(f'{name} exited with code {event.returncode}: the stack stops (the node\'s '
                                'output above says why)')
        return None
    return on_exit


class NodeExitError(RuntimeError):
    """A node of the stack exited with an error."""


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=_nodes)])
