import numpy as np
import pytest
from pi0_msgs.msg import ExecutorCommand

from pi0_common.commands import MODE_ACTIVE, ChunkRequestInfo, Command
from pi0_common.embodiment import load_embodiment
from pi0_common.messages import (
    MessageError,
    chunk_from_msg,
    command_from_msg,
    command_to_msg,
    make_chunk_msg,
    request_from_msg,
    request_to_msg,
    to_sec,
    to_time_msg,
)


@pytest.fixture
def emb():
    return load_embodiment('ur5e')


def test_time_round_trip():
    for t in (0.0, 1.5, 1732800000.123456789):
        assert to_sec(to_time_msg(t)) == pytest.approx(t, abs=1e-9)


def test_chunk_round_trip_pads_to_the_unified_space(emb):
    actions = np.random.default_rng(0).normal(size=(50, 7))
    msg = make_chunk_msg(emb, 3, 12.5, 0.05, actions, 0.08, 'reach the red block', request_id=9)
    assert msg.action_dim == 18 and msg.valid_dims == 7 and len(msg.actions) == 50 * 18
    assert np.all(np.asarray(msg.actions).reshape(50, 18)[:, 7:] == 0)
    assert chunk_from_msg(msg, emb) == pytest.approx(actions, abs=1e-6)
    assert to_sec(msg.header.stamp) == pytest.approx(12.5) and msg.request_id == 9


@pytest.mark.parametrize('mutate, message', [
    (lambda m: setattr(m, 'embodiment', 'franka'), "for embodiment 'franka'"),
    (lambda m: setattr(m, 'valid_dims', 8), 'valid_dims 8'),
    (lambda m: setattr(m, 'horizon', 49), 'values for horizon 49'),
    (lambda m: m.actions.__setitem__(10, 1.0), 'zero padding'),
])
def test_bad_chunk_messages_are_refused(emb, mutate, message):
    msg = make_chunk_msg(emb, 1, 0.0, 0.05, np.zeros((50, 7)), 0.1, '')
    mutate(msg)
    with pytest.raises(MessageError, match=message):
        chunk_from_msg(msg, emb)


def test_command_round_trip_and_refusals(emb):
    cmd = Command(MODE_ACTIVE, 5.0, 0.05, np.arange(21, dtype=float).reshape(3, 7) / 10, chunk_id=4)
    msg = command_to_msg(cmd, emb)
    back = command_from_msg(msg, emb)
    assert back.positions == pytest.approx(cmd.positions, abs=1e-6) and back.chunk_id == 4
    bad = command_to_msg(cmd, emb)
    bad.positions[8] = float('nan')
    with pytest.raises(MessageError, match='non-finite value at point 1, dim arm/shoulder_lift_joint'):
        command_from_msg(bad, emb)
    bad = command_to_msg(cmd, emb)
    bad.num_points = 2
    with pytest.raises(MessageError, match='21 values for 2 points'):
        command_from_msg(bad, emb)
    bad = command_to_msg(cmd, emb)
    bad.mode = 7
    with pytest.raises(MessageError, match='mode 7'):
        command_from_msg(bad, emb)
    assert ExecutorCommand.MODE_HOLD == 1


def test_request_round_trip(emb):
    info = ChunkRequestInfo(5, 10.05, 0.05, np.ones((4, 7)), 2, 10)
    back = request_from_msg(request_to_msg(info, 10.0, 7), emb)
    assert back.request_id == 5 and back.committed.shape == (4, 7) and back.inference_delay_steps == 2
    assert back.committed_start == pytest.approx(10.05)
    empty = request_from_msg(request_to_msg(ChunkRequestInfo(6, 0.0, 0.05, np.zeros((0, 7)), 0, 10), 0.0, 7), emb)
    assert empty.committed.shape == (0, 7)
    bad = request_to_msg(info, 10.0, 7)
    bad.committed_actions = bad.committed_actions[:-1]
    with pytest.raises(MessageError, match='do not fit'):
        request_from_msg(bad, emb)
