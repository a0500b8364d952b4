"""The evaluation command, closed loop through the whole stack in simulation (every node its own process:
simulator, driver, executor, policy; the run_instruction action), with the embedded default policy: one
episode per instruction, from layouts and start poses of a seed that neither the demonstrations nor the
README's evaluation used; and the same against a stack it did not start (--attach)."""

from __future__ import annotations

import json

import pytest

from pi0_bringup.block_task import INSTRUCTIONS
from pi0_bringup.evaluate import main, parse_args
from pi0_bringup.runner import Stack
from pi0_bringup.stack_spec import robot_stack

SEED = 2024


def check_result(out, timeout: float = 10.0) -> list[dict]:
    result = json.loads(out.read_text())
    episodes = result['episodes']
    assert [e['instruction'] for e in episodes] == list(INSTRUCTIONS)
    for e in episodes:
        assert e['target'] in e['instruction']
        assert e['success'] and not e['confusion'], e
        assert 0 < e['time_to_reach'] <= timeout and e['chunks_executed'] > 0     # reached within the episode
        assert e['final_distance'] < 0.05
    for instruction, s in result['summary'].items():
        assert (s['episodes'], s['successes'], s['confusions'], s['success_rate']) == (1, 1, 0, 1.0), instruction
    return episodes


@pytest.mark.slow
def test_the_default_policy_reaches_the_named_block(tmp_path, capsys):
    out = tmp_path / 'eval.json'
    assert main(['--checkpoint', 'default', '--episodes', '1', '--seed', str(SEED), '--json', str(out)]) == 0
    assert '=== default: 2 episodes' in capsys.readouterr().out
    check_result(out)


@pytest.mark.slow
def test_attach_evaluates_a_stack_started_elsewhere(tmp_path):
    """As with `ros2 launch pi0_bringup ur5e.launch.py sim:=true` in another terminal: the stack runs
    unpaused with the simulator's default seed and no start spread; the tool sets both per episode."""
    out = tmp_path / 'eval.json'
    with Stack(robot_stack('ur5e', sim=True, checkpoint='default')) as stack:
        assert main(['--attach', '--episodes', '1', '--seed', str(SEED), '--json', str(out)]) == 0
        stack.check()
    check_result(out)


@pytest.mark.parametrize('args', [['--episodes', '0'], ['--timeout', '0'], ['--start-spread', '1.5'],
                                  ['--start-spread', '-0.1']])
def test_bad_arguments_are_refused(args):
    with pytest.raises(SystemExit):
        parse_args(args)
