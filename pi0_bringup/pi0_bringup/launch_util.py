"""What every per-robot launch file does: include pi0_stack.launch.py with its embodiment. Imported only
by launch files (it needs the launch packages)."""

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def include_stack(embodiment: str) -> LaunchDescription:
    """pi0_stack.launch.py for one robot; the stack's arguments (sim, checkpoint, instruction, namespace,
    params_file, switching, conventions, clock, physics, log_level) pass through from the command line."""
    stack = PathJoinSubstitution([FindPackageShare('pi0_bringup'), 'launch', 'pi0_stack.launch.py'])
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(stack),
                                 launch_arguments={'embodiment': embodiment}.items()),
    ])
