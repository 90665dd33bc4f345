"""`ssh`: a remote shell or command whose AWS SDKs get a role's credentials served back over the connection."""

from __future__ import annotations

import os

from tray.core.errors import UsageError


def cmd_ssh(args) -> int:
    from tray.cli.roles import _discovery_for
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.profiles import resolve
    from tray.core.outlets import remote
    from tray.core.outlets.endpoint import CredentialEndpoint

    if os.name == "nt":
        raise UsageError("sso-tray ssh needs OpenSSH's control sockets, which Windows' own OpenSSH lacks: run it in WSL")
    remote.split_arguments(args.ssh_args)  # bad usage is told before any AWS call
    profile = resolve(AwsConfig.load(), args.profile, args.sso_session, _discovery_for)

    def credentials():
        return rolecreds.get(profile.session, profile.account_id, profile.role_name)

    credentials()  # a signed-out session fails here, with exit 3, before connecting
    with CredentialEndpoint() as endpoint:  # this connection's own: it ends with it
        # As for exec --server: a job started with these credentials keeps the last ones while they last.
        token = endpoint.issue(credentials, keep_when_signed_out=True)
        return remote.run(args.ssh_args, endpoint, token, profile.region)
