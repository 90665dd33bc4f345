"""A local IAM Identity Center for tests and demos: the sso-oidc and sso (portal) APIs, as botocore's
service models define them, plus the sign-in pages a person would see, on one HTTP port.

Only the standard library is used; nothing here imports the rest of sso-tray.
"""

from .options import SimulatorOptions
from .simulator import Simulator

__all__ = ["Simulator", "SimulatorOptions"]
