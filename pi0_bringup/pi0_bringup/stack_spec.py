"""Which nodes a pi0_ros stack runs and with which parameters: the one place that says it.

The launch files (pi0_stack.launch.py, record.launch.py) turn these specs into launch_ros Node actions;
the process runner (runner.py) starts the very same executables with the very same resolved
parameters. So `ros2 launch` and the tools cannot drift apart. This module imports neither launch nor
rclpy: it is plain data and YAML.

Parameter resolution, in order (later wins):
    1. the params file: every block whose key matches the node's fully qualified name, in file order.
       Keys may be a plain name (root namespace only), a namespaced name (/robot1/pi0_policy, or nested
       mappings robot1: {pi0_policy: ...}), or wildcards: `/**` (any namespaces, also none) and `*` (one
       name, or part of one), as in /** or /**/pi0_policy;
    2. what the launch arguments set (embodiment, checkpoint, instruction, switching, ...);
    3. explicit per-node overrides (tools and tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

POLICY, EXECUTOR, DRIVER, SIMULATOR = 'pi0_policy', 'pi0_chunk_executor', 'pi0_robot_driver', 'pi0_simulator'
RECORDER, TELEOP, EXPERT = 'pi0_recorder', 'pi0_teleop', 'pi0_scripted_expert'
MANAGER = 'pi0_lifecycle_manager'

# node name -> (package, executable): what `ros2 run` would start
EXECUTABLES = {
    POLICY: ('pi0_policy', 'policy_node'),
    EXECUTOR: ('pi0_drivers', 'chunk_executor'),
    DRIVER: ('pi0_drivers', 'robot_driver'),
    SIMULATOR: ('pi0_sim', 'simulator'),
    RECORDER: ('pi0_recording', 'recorder'),
    TELEOP: ('pi0_recording', 'teleop'),
    EXPERT: ('pi0_sim', 'scripted_expert'),
    MANAGER: ('pi0_bringup', 'lifecycle_manager'),
}
TELEOP_SOURCES = ('none', 'leader', 'twist', 'expert')


@dataclass
class NodeSpec:
    """One node of a stack: what to start and the parameters it gets (already resolved)."""
    name: str
    package: str
    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)
    namespace: str = ''
    remaps: dict[str, str] = field(default_factory=dict)    # topic remapping rules, from -> to (tests)


def config_dir() -> Path:
    """pi0_bringup/config: installed (ament index) or, in a source checkout, next to this package."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            return Path(get_package_share_directory('pi0_bringup')) / 'config'
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parent.parent / 'config'


def default_params_file(embodiment: str) -> Path:
    return config_dir() / f'{embodiment}.yaml'


# -- params files -----------------------------------------------------------------------------------
def load_params_file(path: str | Path) -> dict:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{path}: a params file is a mapping of node names to ros__parameters blocks')
    return data


def parameter_blocks(data: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    """(key path split into names, flattened parameters) of every ros__parameters block, in file order.
    Nested mappings above ros__parameters are namespaces: {robot1: {pi0_policy: ...}} is /robot1/pi0_policy."""
    blocks = []
    for key, value in data.items():
        if key == 'ros__parameters':
            blocks.append((prefix, flatten(value or {})))
        elif isinstance(value, dict):
            blocks.extend(parameter_blocks(value, prefix + tuple(t for t in str(key).split('/') if t)))
    return blocks


def flatten(params: dict, prefix: str = '') -> dict[str, Any]:
    """Nested parameter mappings become dotted names, as ROS reads them."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        name = f'{prefix}.{k}' if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, name))
        else:
            out[name] = v
    return out


def _key_regex(tokens: tuple[str, ...]) -> re.Pattern:
    parts = []
    for token in tokens:
        if token == '**':
            parts.append('(/[^/]+)*')
        else:
            parts.append('/' + '[^/]*'.join(re.escape(piece) for piece in token.split('*')))
    return re.compile(''.join(parts))


def fully_qualified_name(name: str, namespace: str = '') -> str:
    namespace = '/'.join(t for t in namespace.split('/') if t)
    return f'/{namespace}/{name}' if namespace else f'/{name}'


def node_parameters(params: dict | str | Path, node_name: str, namespace: str = '') -> dict[str, Any]:
    """The parameters a params file gives the node `namespace/node_name` (see the module docstring)."""
    data = params if isinstance(params, dict) else load_params_file(params)
    fqn = fully_qualified_name(node_name, namespace)
    out: dict[str, Any] = {}
    for tokens, values in parameter_blocks(data):
        if _key_regex(tokens).fullmatch(fqn):
            out.update(values)
    return out


def _spec(name: str, data: dict, namespace: str, launch_values: dict[str, Any],
          overrides: dict[str, dict[str, Any]]) -> NodeSpec:
    package, executable = EXECUTABLES[name]
    parameters = node_parameters(data, name, namespace)
    parameters.update(launch_values)
    parameters.update(overrides.get(name, {}))
    return NodeSpec(name, package, executable, parameters, namespace)


def _check_overrides(overrides: dict, names: list[str]) -> None:
    unknown = set(overrides) - set(names)
    if unknown:
        raise ValueError(f'overrides for node(s) {", ".join(sorted(unknown))} not in this stack ({", ".join(names)})')


# -- the stacks --------------------------------------------------------------------------------------
def robot_stack(embodiment: str = 'ur5e', sim: bool = False, checkpoint: str = '', instruction: str = '',
                namespace: str = '', params_file: str | Path = '', switching: str = '', conventions: str = '',
                clock: str = '', physics: str = '',
                overrides: dict[str, dict[str, Any]] | None = None) -> list[NodeSpec]:
    """pi0_stack.launch.py: policy, chunk executor and robot driver, plus the simulator when ``sim``.
    Empty strings keep the params file's value; the defaults are those of the launch arguments.

    ``conventions`` (a preset such as pi0_droid, a pi0_conventions.yaml, or auto = the checkpoint's own)
    goes to the policy, and the control rate and executed steps the checkpoint was trained for go to the
    executor: pi0_droid's 10-step chunks at 15 Hz would not fill the Franka's 16 executed steps at 20 Hz.

    ``clock`` (wall or lockstep) and ``physics`` (kinematic or aloha_mujoco) go to the simulator; see
    with_clock for what lock-step means for the other nodes."""
    path = Path(params_file) if params_file else default_params_file(embodiment)
    if not path.is_file() and params_file:
        raise FileNotFoundError(f'params_file {path} does not exist')
    if not path.is_file():
        known = sorted(f.stem for f in config_dir().glob('*.yaml'))
        raise FileNotFoundError(f'embodiment {embodiment!r} has no stack configuration ({path.name}); '
                                f'known: {", ".join(known)}')
    data = load_params_file(path)
    policy = {'embodiment': embodiment, 'hardware': not sim}
    if checkpoint:
        policy['checkpoint'] = checkpoint
    if instruction:
        policy['instruction'] = instruction
    # On hardware (sim false) the executor starts disarmed and caps its velocity scale; in simulation not.
    executor = {'embodiment': embodiment, 'hardware': not sim}
    if switching:
        executor['switching'] = switching
    if conventions:
        policy['conventions'] = conventions
        timing = conventions_timing(conventions, checkpoint or node_parameters(data, POLICY, namespace)
                                    .get('checkpoint', ''))
        executor.update(timing)
        policy.update(timing)            # the policy checks the checkpoint against what the executor runs
    # The simulator first (the robot's state flows), the policy last (loading and warm-up take a while).
    simulator = simulator_values(embodiment, sim, clock, physics)       # checked even without sim
    wanted = ([(SIMULATOR, simulator)] if sim else []) + [
        (DRIVER, {'embodiment': embodiment}), (EXECUTOR, executor), (POLICY, policy)]
    overrides = overrides or {}
    _check_overrides(overrides, [name for name, _ in wanted] + [MANAGER])
    specs = with_clock([_spec(name, data, namespace, values, overrides) for name, values in wanted])
    # The lifecycle manager configures the managed nodes in that order and activates them; an executor
    # that drives hardware (its resolved parameter) stays inactive, disarmed: activating it is arming.
    managed = [DRIVER, EXECUTOR, POLICY]
    hardware = next(s for s in specs if s.name == EXECUTOR).parameters.get('hardware', True)
    manager = manager_parameters(managed, [DRIVER, POLICY] if hardware else managed)
    return specs + [_spec(MANAGER, data, namespace, manager, overrides)]


def simulator_values(embodiment: str, sim: bool, clock: str, physics: str) -> dict[str, Any]:
    """The simulator's launch values; empty strings keep the params file's."""
    if clock not in ('', 'wall', 'lockstep'):
        raise ValueError(f"clock must be wall or lockstep, not {clock!r}")
    if not sim and (clock == 'lockstep' or physics):
        raise ValueError('clock:=lockstep and physics:= are simulator settings: they need sim:=true')
    values: dict[str, Any] = {'embodiment': embodiment}
    if clock:
        values['clock'] = clock
    if physics:
        values['physics'] = physics
    return values


def with_clock(specs: list[NodeSpec]) -> list[NodeSpec]:
    """A simulator in lock-step (its resolved ``clock`` parameter) owns time: every other node of the stack
    runs on /clock (use_sim_time), and the simulator ticks at the rate the executor runs at. The lifecycle
    manager is the exception: its retries are for processes starting up, in wall time."""
    sim = next((s for s in specs if s.name == SIMULATOR), None)
    if sim is None or sim.parameters.get('clock', 'wall') != 'lockstep':
        return specs
    executor = next((s for s in specs if s.name == EXECUTOR), None)
    if executor is not None and 'lockstep_rate_hz' not in sim.parameters:
        sim.parameters['lockstep_rate_hz'] = float(executor.parameters.get('rate_hz', 0.0))
    for spec in specs:
        if spec.name not in (SIMULATOR, MANAGER):
            spec.parameters['use_sim_time'] = True
    return specs


def conventions_timing(conventions: str, checkpoint: str) -> dict[str, Any]:
    """The executor's rate_hz and executed_steps for a checkpoint's conventions (rate_hz only when they
    state one: LeRobot configs do not)."""
    from pi0_policy.conventions import load_conventions  # numpy and yaml only: no model, no torch

    c = load_conventions('' if conventions == 'auto' else conventions, checkpoint or None)
    return {**({'rate_hz': float(c.control_rate_hz)} if c.control_rate_hz > 0 else {}),
            'executed_steps': int(c.executed_steps)}


def recording_stack(embodiment: str = 'ur5e', output_dir: str = '', camera_transport: str = 'raw',
                    teleop: str = 'none', sim: bool = False, driver: str = 'auto', namespace: str = '',
                    params_file: str | Path = '', disk_floor_mb: float = 1024.0, clock: str = '', physics: str = '',
                    overrides: dict[str, dict[str, Any]] | None = None) -> list[NodeSpec]:
    """record.launch.py: the recorder; a teleop source (leader arms, a Twist base, or the scripted expert
    in simulation); the robot driver (driver: auto = when simulated or teleoperated); the simulator."""
    if teleop not in TELEOP_SOURCES:
        raise ValueError(f'teleop must be one of {", ".join(TELEOP_SOURCES)}, not {teleop!r}')
    if teleop == 'expert' and not sim:
        raise ValueError('teleop:=expert plans in the simulated scene: it needs sim:=true')
    if not output_dir:
        raise ValueError('output_dir is required: the folder for the episode bags')
    path = Path(params_file) if params_file else default_params_file(embodiment)
    # Recording works for robots that have no stack configuration too: then only the arguments count.
    data = load_params_file(path) if params_file or path.is_file() else {}
    wanted = []
    simulator = simulator_values(embodiment, sim, clock, physics)       # checked even without sim
    if sim:
        wanted.append((SIMULATOR, {**simulator, 'camera_transport': camera_transport}))
    has_driver = driver == 'true' or (driver == 'auto' and (sim or teleop != 'none'))
    if has_driver:
        wanted.append((DRIVER, {'embodiment': embodiment}))
    wanted.append((RECORDER, {'embodiment': embodiment, 'output_dir': str(Path(output_dir).expanduser()),
                              'camera_transport': camera_transport, 'disk_floor_mb': float(disk_floor_mb)}))
    if teleop in ('leader', 'twist'):
        wanted.append((TELEOP, {'embodiment': embodiment, 'arm_source': 'leader' if teleop == 'leader' else 'hold',
                                'base_source': 'twist'}))
    elif teleop == 'expert':
        wanted.append((EXPERT, {'embodiment': embodiment}))
    if has_driver:        # the driver is a managed node: the teleop commands pass once it is active
        wanted.append((MANAGER, manager_parameters([DRIVER], [DRIVER])))
    overrides = overrides or {}
    _check_overrides(overrides, [name for name, _ in wanted])
    return with_clock([_spec(name, data, namespace, values, overrides) for name, values in wanted])


def manager_parameters(managed: list[str], activate: list[str]) -> dict[str, Any]:
    """The lifecycle manager's parameters: configure ``managed`` in order, then activate ``activate``."""
    return {'node_names': list(managed), 'autostart': True,
            'activate': ['all'] if list(activate) == list(managed) else list(activate)}


def truthy(text: str) -> bool:
    """A launch argument's boolean, as the launch files accept it."""
    return str(text).strip().lower() in ('true', '1', 'yes', 'on')
