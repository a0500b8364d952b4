"""The simulated backend's pure-Python core: kinematics, a task scene and cameras, no ROS.

``SimWorld`` (world.py) stands in for the robot hardware of any embodiment: it takes joint
set-points, JointTrajectoryController-style trajectories and base twists in hardware units,
advances on an explicit clock, and reports joint states, odometry and RGB camera images. The
driver node wraps it (sim_backend.py) so that the whole stack runs without a robot.

Modules: ``spec`` (the embodiment's ``sim:`` block), ``kinematics`` (DH chains, IK),
``actuators`` (joint tracking, trajectories, base drive), ``scene`` (table and blocks),
``render`` (the rasteriser), ``views`` (what each camera draws), ``world`` (SimWorld).
"""

from pi0_drivers.sim.kinematics import Chain, IKError, solve_ik
from pi0_drivers.sim.spec import SimConfigError
from pi0_drivers.sim.world import SimWorld

__all__ = ['Chain', 'IKError', 'SimConfigError', 'SimWorld', 'solve_ik']
