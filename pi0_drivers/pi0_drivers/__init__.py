"""The robot side of pi0_ros: the chunk executor (executor.py, chunking.py and safety.py are plain
Python; executor_node.py and instruction_action.py wrap them) and the robot driver (driver_node.py
over one interface class per vendor command interface, interfaces/). The same code drives the real
robot and the simulated one (pi0_sim)."""
