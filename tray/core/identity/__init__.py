"""The Identity Center protocol, as the AWS CLI v2 speaks it: the config's sessions and profiles (`config`,
`profiles`), the token cache (`tokens`), sign-in and sign-out (`signin`), status and renewal (`sessions`),
accounts and roles (`accounts`), role credentials and their cache (`rolecreds`), the rate limit
(`ratelimit`) and the boto3 clients (`aws`, the only place boto3 is imported); the region of a start URL
without `sso_region` (`startregion`); `aws login` sessions beside the SSO ones (`login`: status, credentials,
refresh through botocore's login provider, sign-in and sign-out).

May import: `tray.core.errors`, `tray.core.credentials`, `tray.core.files`, `tray.core.osutil`.
"""
