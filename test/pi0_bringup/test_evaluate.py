"""The evaluation command, closed loop through the whole stack in simulation (policy node in its own
process, executor, driver, run_instruction action), with the embedded default policy: one episode per
instruction, from layouts and start poses of a seed that neither the demonstrations nor the README's
evaluation used."""

from __future__ import annotations

import json

import pytest

from pi0_bringup.block_task import INSTRUCTIONS
from pi0_bringup.evaluate import main, parse_args


@pytest.mark.slow
def test_the_default_policy_reaches_the_named_block(tmp_path, capsys):
    out = tmp_path / 'eval.json'
    assert main(['--checkpoint', 'default', '--episodes', '1', '--seed', '2024', '--json', str(out)]) == 0
    assert '=== default: 2 episodes' in capsys.readouterr().out
    result = json.loads(out.read_text())
    episodes = result['episodes']
    assert [e['instruction'] for e in episodes] == list(INSTRUCTIONS)
    for e in episodes:
        assert e['target'] in e['instruction']
        assert e['success'] and not e['confusion'], e
        assert 0 < e['time_to_reach'] < 10 and e['chunks_executed'] > 0
    for instruction, s in result['summary'].items():
        assert (s['episodes'], s['successes'], s['confusions'], s['success_rate']) == (1, 1, 0, 1.0), instruction


@pytest.mark.parametrize('args', [['--episodes', '0'], ['--timeout', '0'], ['--start-spread', '1.5'],
                                  ['--start-spread', '-0.1']])
def test_bad_arguments_are_refused(args):
    with pytest.raises(SystemExit):
        parse_args(args)
