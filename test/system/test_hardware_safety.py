"""A hardware launch against a stand-in vendor driver (benchmarks/hardware_safety.py runs the scenario
and prints these figures): nothing is commanded while unarmed; after arming, commands start at the
measured position and stay within the scaled velocity and the acceleration limits; a frozen controller
(UR speed scaling 0) is held and restarted from where the robot is; an e-stop from a default-QoS
publisher stops commands within two ticks and latches in the driver too."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'hardware_safety.py'


@pytest.fixture(scope='module')
def figures():
    spec = importlib.util.spec_from_file_location('hardware_safety', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.run_scenario(unarmed=2.0, armed=4.0)


@pytest.mark.slow
def test_nothing_is_commanded_until_the_operator_arms(figures):
    assert figures.commands_while_unarmed == 0 and figures.trajectories_while_unarmed == 0
    assert figures.active_commands > 20


@pytest.mark.slow
def test_armed_commands_start_at_the_robot_and_stay_within_the_limits(figures):
    assert figures.first_armed_offset <= figures.one_tick_travel
    assert figures.max_speed_ratio <= 1.0 + 1e-3
    assert figures.max_accel_ratio <= 1.0 + 1e-3


@pytest.mark.slow
def test_a_frozen_controller_is_held_and_restarted_from_the_robot(figures):
    assert figures.frozen_state_seen
    assert figures.first_unfrozen_offset <= figures.one_tick_travel


@pytest.mark.slow
def test_an_estop_from_a_volatile_publisher_stops_commands_within_two_ticks(figures):
    assert figures.estop_ticks <= 2 and figures.driver_latched
