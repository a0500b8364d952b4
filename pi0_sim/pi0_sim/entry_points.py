"""The node executables' console entry points (setup.py): each catches SIGINT and SIGTERM before it
imports its node module, so a stop during the seconds of importing is clean (pi0_common.stop_signals)."""

from pi0_common.stop_signals import node_entry

simulator = node_entry('pi0_sim.simulator_node')
scripted_expert = node_entry('pi0_sim.expert_node')
