"""Parameters: the checks' ranges and choices reach the descriptors (what `ros2 param describe` shows),
values outside them are refused at start with one ParameterError naming the parameter, and run-time
changes are refused by rclpy (range) and by refusal() (the same checks) alike. Real rclpy nodes."""

from __future__ import annotations

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from pi0_common.params import Param, ParameterError, declare_all, in_range, non_negative, one_of, positive, refusal

PARAMS = [
    Param('scale', 0.5, 'a fraction', in_range(0.01, 1.0), read_only=False),
    Param('timeout', 2.0, 'seconds', positive, read_only=False),
    Param('steps', 8, 'count', non_negative, read_only=False),
    Param('mode', 'replace', 'how', one_of('replace', 'crossfade'), read_only=False),
    Param('name', 'ur5e', 'fixed'),
]


def make_node(context, **overrides) -> Node:
    return Node('params_under_test', context=context,
                parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def test_descriptors_show_ranges_choices_and_mutability(context):
    node = make_node(context)
    declare_all(node, PARAMS)
    d = {p.name: node.describe_parameter(p.name) for p in PARAMS}
    assert (d['scale'].floating_point_range[0].from_value, d['scale'].floating_point_range[0].to_value) == (0.01, 1.0)
    timeout = d['timeout'].floating_point_range[0]
    assert 0.0 < timeout.from_value < 1e-300 and timeout.to_value > 1e300
    assert d['steps'].integer_range[0].from_value == 0
    assert d['mode'].additional_constraints == "one of: 'replace', 'crossfade'"
    assert not d['scale'].read_only and d['name'].read_only
    node.destroy_node()


@pytest.mark.parametrize('name, value, words', [
    ('scale', 1.5, 'scale'), ('timeout', 0.0, 'timeout'), ('steps', -1, 'steps'), ('mode', 'fade', 'expected one of'),
    ('scale', 'fast', 'scale'),
])
def test_a_bad_value_at_start_is_one_parameter_error_naming_it(context, name, value, words):
    node = make_node(context, **{name: value})
    with pytest.raises(ParameterError, match=words) as info:
        declare_all(node, PARAMS)
    assert '\n' not in str(info.value) and name in str(info.value)
    node.destroy_node()


def test_run_time_changes_are_checked_like_at_start(context):
    node = make_node(context)
    declare_all(node, PARAMS)
    # rclpy applies the descriptor's range itself ...
    assert not node.set_parameters([Parameter('scale', value=2.0)])[0].successful
    assert not node.set_parameters([Parameter('timeout', value=0.0)])[0].successful
    assert not node.set_parameters([Parameter('name', value='franka')])[0].successful     # read-only
    assert node.set_parameters([Parameter('timeout', value=0.1)])[0].successful
    # ... and refusal() says why with the start-up check, for an on-set callback
    assert refusal(PARAMS, [Parameter('mode', value='fade')]) == "mode = 'fade': expected one of replace, crossfade"
    assert refusal(PARAMS, [Parameter('scale', value=0.2), Parameter('steps', value=3)]) is None
    node.destroy_node()
