"""The node executables' console entry points (setup.py): each catches SIGINT and SIGTERM before it
imports its node module, so a stop during the seconds of importing is clean (pi0_common.stop_signals)."""

from pi0_common.stop_signals import node_entry

recorder = node_entry('pi0_recording.recorder_node')
teleop = node_entry('pi0_recording.teleop.teleop_node')
