"""Simulated robots: the simulator node (the vendor interfaces of every embodiment over a kinematic
world) and the scripted expert of its task."""
