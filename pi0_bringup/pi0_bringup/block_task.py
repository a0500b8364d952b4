"""The default policy's task on the simulated UR5e, shared by the demonstration collector and the evaluator so
that a policy is evaluated on the distribution it was trained on."""

INSTRUCTIONS = ('reach the red block', 'reach the blue block')

# Every episode starts the arm up to this far from home on each joint (rad, uniform, seeded). From one fixed
# start the first centimetres of a reach tell which block it goes to, and a policy learns to read its goal
# off its own pose rather than off the instruction; from spread starts only the instruction and the camera
# can tell.
START_SPREAD = 0.3
