"""stack_spec: which nodes each stack runs, and how a params file, the launch arguments and overrides
resolve into each node's parameters (wildcards, namespaces, file order)."""

import pytest
import yaml

from pi0_bringup.stack_spec import (
    DRIVER,
    EXECUTOR,
    EXPERT,
    MANAGER,
    POLICY,
    RECORDER,
    SIMULATOR,
    TELEOP,
    node_parameters,
    recording_stack,
    robot_stack,
)

PARAMS = yaml.safe_load('''
/**:
  ros__parameters:
    use_sim_time: false
    embodiment: everyone
/**/pi0_policy:
  ros__parameters:
    embodiment: ur5e
    checkpoint: default
    nested: {a: 1, b: {c: two}}
pi0_policy:
  ros__parameters:
    instruction: root only
/robot1/pi0_policy:
  ros__parameters:
    instruction: robot one
robot2:
  pi0_policy:
    ros__parameters:
      instruction: robot two
/*/pi0_chunk_executor:
  ros__parameters:
    switching: one level only
/**/pi0_*:
  ros__parameters:
    prefix_wildcard: true
''')


def test_wildcard_blocks_apply_first_and_specific_ones_on_top():
    p = node_parameters(PARAMS, 'pi0_policy')
    assert p['use_sim_time'] is False and p['embodiment'] == 'ur5e' and p['checkpoint'] == 'default'
    assert p['instruction'] == 'root only'
    assert p['prefix_wildcard'] is True


def test_nested_parameters_become_dotted_names():
    p = node_parameters(PARAMS, 'pi0_policy')
    assert p['nested.a'] == 1 and p['nested.b.c'] == 'two'


def test_namespaced_keys_match_only_their_namespace():
    assert node_parameters(PARAMS, 'pi0_policy', '/robot1')['instruction'] == 'robot one'
    assert node_parameters(PARAMS, 'pi0_policy', 'robot2')['instruction'] == 'robot two'    # nested mapping
    other = node_parameters(PARAMS, 'pi0_policy', '/robot3')
    assert 'instruction' not in other and other['checkpoint'] == 'default'


def test_single_star_matches_exactly_one_name():
    assert 'switching' not in node_parameters(PARAMS, 'pi0_chunk_executor')
    assert node_parameters(PARAMS, 'pi0_chunk_executor', '/robot1')['switching'] == 'one level only'
    assert 'switching' not in node_parameters(PARAMS, 'pi0_chunk_executor', '/a/b')


def test_unrelated_nodes_get_only_the_global_wildcard():
    assert node_parameters(PARAMS, 'other_node') == {'use_sim_time': False, 'embodiment': 'everyone'}


def test_robot_stack_nodes_and_launch_arguments(tmp_path):
    specs = robot_stack('ur5e')
    assert [s.name for s in specs] == [DRIVER, EXECUTOR, POLICY, MANAGER]
    # on hardware the manager leaves the executor inactive (disarmed): activating it is arming
    manager = specs[-1].parameters
    assert manager['node_names'] == [DRIVER, EXECUTOR, POLICY] and manager['activate'] == [DRIVER, POLICY]
    assert manager['autostart'] is True
    assert (specs[-1].package, specs[-1].executable) == ('pi0_bringup', 'lifecycle_manager')
    sim = robot_stack('ur5e', sim=True, checkpoint='random:pi0_tiny', instruction='reach the blue block',
                      switching='rtc', namespace='/r1')
    by_name = {s.name: s for s in sim}
    assert [s.name for s in sim] == [SIMULATOR, DRIVER, EXECUTOR, POLICY, MANAGER]
    assert by_name[MANAGER].parameters['activate'] == ['all']                 # in simulation: every node
    assert all(s.namespace == '/r1' and s.parameters['embodiment'] == 'ur5e' for s in sim if s.name != MANAGER)
    assert by_name[POLICY].parameters['checkpoint'] == 'random:pi0_tiny'
    assert by_name[POLICY].parameters['instruction'] == 'reach the blue block'
    assert by_name[EXECUTOR].parameters['switching'] == 'rtc'
    assert by_name[SIMULATOR].parameters['camera_rate_hz'] == 15.0          # from the /**/pi0_simulator block
    assert (by_name[SIMULATOR].package, by_name[SIMULATOR].executable) == ('pi0_sim', 'simulator')
    # empty launch arguments keep the params file's values
    kept = {s.name: s for s in robot_stack('ur5e')}
    assert kept[POLICY].parameters['checkpoint'] == 'default'
    assert kept[EXECUTOR].parameters['switching'] == 'replace'


def test_overrides_win_and_must_name_a_node_of_the_stack(tmp_path):
    specs = robot_stack('ur5e', sim=True, switching='rtc', overrides={EXECUTOR: {'switching': 'ensemble'},
                                                                      SIMULATOR: {'seed': 7}})
    by_name = {s.name: s for s in specs}
    assert by_name[EXECUTOR].parameters['switching'] == 'ensemble' and by_name[SIMULATOR].parameters['seed'] == 7
    with pytest.raises(ValueError, match=SIMULATOR):
        robot_stack('ur5e', sim=False, overrides={SIMULATOR: {'seed': 7}})


def test_a_custom_params_file_is_read_with_the_node_namespace(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text(yaml.safe_dump({'/lab/pi0_chunk_executor': {'ros__parameters': {'switching': 'crossfade'}}}))
    assert {s.name: s for s in robot_stack('ur5e', params_file=path, namespace='lab')}[EXECUTOR] \
        .parameters['switching'] == 'crossfade'
    assert 'switching' not in {s.name: s for s in robot_stack('ur5e', params_file=path)}[EXECUTOR].parameters
    with pytest.raises(FileNotFoundError):
        robot_stack('ur5e', params_file=tmp_path / 'missing.yaml')


def test_recording_stack_nodes():
    def names(**kw):
        return [s.name for s in recording_stack(output_dir='/tmp/bags', **kw)]
    assert names() == [RECORDER]
    assert names(teleop='leader', sim=True) == [SIMULATOR, DRIVER, RECORDER, TELEOP, MANAGER]
    assert names(teleop='twist', driver='false') == [RECORDER, TELEOP]
    assert names(teleop='expert', sim=True) == [SIMULATOR, DRIVER, RECORDER, EXPERT, MANAGER]
    specs = {s.name: s for s in recording_stack(output_dir='~/bags', sim=True, camera_transport='compressed')}
    assert specs[SIMULATOR].parameters['camera_transport'] == 'compressed'
    assert specs[RECORDER].parameters['camera_transport'] == 'compressed'
    assert not specs[RECORDER].parameters['output_dir'].startswith('~')
    with pytest.raises(ValueError):
        recording_stack(output_dir='/tmp/bags', teleop='expert')           # the expert needs the simulator
    with pytest.raises(ValueError):
        recording_stack()                                                    # no output_dir


def test_an_unknown_robot_or_params_file_is_one_clear_error():
    with pytest.raises(FileNotFoundError, match=r"embodiment 'ur6' has no stack configuration .*known: .*ur5e"):
        robot_stack('ur6', sim=True)
    with pytest.raises(FileNotFoundError, match='params_file /nonexistent.yaml does not exist'):
        robot_stack('ur5e', params_file='/nonexistent.yaml')


def test_conventions_set_the_rate_and_steps_the_checkpoint_was_trained_for():
    specs = {s.name: s.parameters for s in robot_stack('franka', sim=True, conventions='pi0_droid')}
    for node in (EXECUTOR, POLICY):
        assert (specs[node]['rate_hz'], specs[node]['executed_steps']) == (15.0, 8)    # DROID: 15 Hz, 10 steps
    assert specs[POLICY]['conventions'] == 'pi0_droid'
    plain = {s.name: s.parameters for s in robot_stack('franka', sim=True)}
    assert 'rate_hz' not in plain[EXECUTOR] and 'conventions' not in plain[POLICY]


def test_a_lockstep_simulator_puts_every_other_node_on_its_clock():
    specs = {s.name: s.parameters for s in robot_stack('franka', sim=True, clock='lockstep', conventions='pi0_droid',
                                                       physics='kinematic')}
    assert (specs[SIMULATOR]['clock'], specs[SIMULATOR]['physics']) == ('lockstep', 'kinematic')
    assert specs[SIMULATOR]['lockstep_rate_hz'] == 15.0               # ticks at the executor's rate
    assert all(specs[n]['use_sim_time'] is True for n in (DRIVER, EXECUTOR, POLICY))
    assert 'use_sim_time' not in specs[SIMULATOR] and 'use_sim_time' not in specs[MANAGER]   # wall time
    wall = {s.name: s.parameters for s in robot_stack('ur5e', sim=True)}
    assert 'clock' not in wall[SIMULATOR] and not any('use_sim_time' in p for p in wall.values())
    recording = {s.name: s.parameters for s in recording_stack(output_dir='/tmp/bags', sim=True, teleop='expert',
                                                               clock='lockstep')}
    assert all(recording[n]['use_sim_time'] is True for n in (DRIVER, RECORDER, EXPERT))
    assert 'lockstep_rate_hz' not in recording[SIMULATOR]      # no executor: the embodiment's control rate
    with pytest.raises(ValueError, match='need sim:=true'):
        robot_stack('ur5e', clock='lockstep')
    with pytest.raises(ValueError, match='clock must be wall or lockstep'):
        robot_stack('ur5e', sim=True, clock='fast')
