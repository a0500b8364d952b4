"""Suite-wide test set-up.

Every pytest run gets a DDS domain of its own, so that two runs on one machine (or a run beside a
live stack) never see each other's topics. Discovery is already kept on this host by
tools/env.sh (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

import os
import random

if 'ROS_DOMAIN_ID' not in os.environ:
    # 1..101 are valid Fast DDS domains on Linux; 0 is left to the user's live stacks.
    os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randint(1, 101))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
