"""Robot interfaces by driver name (the ``driver`` key of an embodiment's interface blocks), each
with its simulator endpoint."""

from pi0_drivers.interfaces.twist import TwistBase, TwistSimEndpoint
from pi0_drivers.interfaces.ur import UrArm, UrSimEndpoint

ARM_DRIVERS = {
    'ur': (UrArm, UrSimEndpoint),
}
BASE_DRIVERS = {
    'twist': (TwistBase, TwistSimEndpoint),
}
