"""A local IAM Identity Center for tests and demos: the sso-oidc and sso (portal) APIs, as botocore's
service models define them, plus the sign-in pages a person would see, on one HTTP port.

It also serves a vanity start URL's redirect (`Simulator.serve_vanity`) and the AWS sign-in service of
`aws login` (`signin.py`). Only the standard library is used, and awscrt (botocore's own DPoP library) to check
the sign-in service's DPoP proofs; nothing here imports the rest of sso-tray.
"""

from .options import SimulatorOptions
from .simulator import Simulator

__all__ = ["Simulator", "SimulatorOptions"]
