"""The person-facing pages: consent for /authorize, the device code form, confirmations, errors, the console stand-in.

Plain HTML with inline CSS and no external resources. Every value shown is escaped.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f2f3f3;color:#16191f;
margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;max-width:30rem;width:calc(100% - 2rem);padding:2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.35rem;margin:0 0 1rem}
p{line-height:1.45}
.tag{font-size:.8rem;color:#5f6b7a;text-transform:uppercase;letter-spacing:.05em;margin:0 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:1rem 0}
dt{color:#5f6b7a}dd{margin:0;word-break:break-all}
.buttons{display:flex;gap:.75rem;margin-top:1.5rem}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:20px;border:1px solid #0972d3;cursor:pointer}
#allow{background:#0972d3;color:#fff}#deny{background:#fff;color:#0972d3}
input[type=text]{font-size:1.3rem;letter-spacing:.15em;padding:.4rem .6rem;width:11rem;text-transform:uppercase}
.error{color:#d91515}
code{background:#f2f3f3;padding:0 .25rem}
"""


def document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><p class=\"tag\">IAM Identity Center simulator</p>{body}</main></body></html>\n"
    )


def _buttons() -> str:
    return (
        "<div class=\"buttons\">"
        "<button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\">Allow</button>"
        "<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">Deny</button>"
        "</div>"
    )


def consent(request_id: str, client_name: str, redirect_uri: str, scopes: tuple[str, ...],
            region: str) -> str:
    target = urlsplit(redirect_uri).netloc or redirect_uri
    scope_text = ", ".join(scopes) if scopes else "(none)"
    body = (
        f"<h1>Allow {escape(client_name)} to access your data?</h1>"
        "<p>An application is asking to use your IAM Identity Center sign-in.</p>"
        "<dl>"
        f"<dt>Application</dt><dd>{escape(client_name)}</dd>"
        f"<dt>Scopes</dt><dd>{escape(scope_text)}</dd>"
        f"<dt>Returns to</dt><dd>{escape(target)}</dd>"
        f"<dt>Region</dt><dd>{escape(region)}</dd>"
        "</dl>"
        "<form method=\"post\" action=\"/authorize\">"
        f"<input type=\"hidden\" name=\"request_id\" value=\"{escape(request_id)}\">"
        f"{_buttons()}</form>"
    )
    return document("Authorize request", body)


def device_form(user_code: str = "", error: str | None = None, client_name: str | None = None) -> str:
    asking = f"<p><strong>{escape(client_name)}</strong> is asking to sign in.</p>" if client_name else ""
    problem = f"<p class=\"error\" role=\"alert\">{escape(error)}</p>" if error else ""
    body = (
        "<h1>Authorize request</h1>"
        f"{asking}"
        "<p>Check that this code matches the one shown by the application.</p>"
        f"{problem}"
        "<form method=\"post\" action=\"/device\">"
        "<label for=\"user_code\">Code</label><br>"
        f"<input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{escape(user_code)}\" "
        "autocomplete=\"off\" spellcheck=\"false\" maxlength=\"9\" placeholder=\"XXXX-XXXX\">"
        f"{_buttons()}</form>"
    )
    return document("Authorize request", body)


def finished(allowed: bool) -> str:
    if allowed:
        title, text = "Request approved", "The application now has access to your sign-in."
    else:
        title, text = "Request denied", "The application was not given access."
    body = f"<h1>{title}</h1><p>{text}</p><p>You may close this window.</p>"
    return document(title, body)


def error(message: str) -> str:
    body = f"<h1>Something went wrong</h1><p class=\"error\">{escape(message)}</p>"
    return document("Error", body)


def signin_confirmation(verification_code: str) -> str:
    """The cross-device `aws login` page: the code the person pastes into the terminal."""
    body = ("<h1>Signed in</h1><p>Paste this code into the terminal that asked for it:</p>"
            f"<p><code id=\"verification-code\">{escape(verification_code)}</code></p>")
    return document("Sign-in code", body)


def index(url: str, region: str, accounts: int) -> str:
    body = (
        "<h1>IAM Identity Center simulator</h1>"
        f"<p>Serving the <code>sso-oidc</code> and <code>sso</code> APIs for region "
        f"<code>{escape(region)}</code> with {accounts} accounts.</p>"
        f"<p>Point <code>AWS_ENDPOINT_URL_SSO</code> and <code>AWS_ENDPOINT_URL_SSO_OIDC</code> "
        f"at <code>{escape(url)}</code>.</p>"
        "<p><a href=\"/device\">Enter a device code</a></p>"
    )
    return document("IAM Identity Center simulator", body)


def console(account_id: str, account_name: str, role_name: str, region: str, path: str) -> str:
    """What a federated console sign-in lands on: who is signed in, where."""
    body = (
        "<h1>AWS Management Console</h1>"
        "<p>Signed in through the sign-in federation endpoint.</p>"
        "<dl>"
        f"<dt>Account</dt><dd id=\"account\">{escape(account_id)}</dd>"
        f"<dt>Account name</dt><dd id=\"account-name\">{escape(account_name)}</dd>"
        f"<dt>Role</dt><dd id=\"role\">{escape(role_name)}</dd>"
        f"<dt>Region</dt><dd id=\"region\">{escape(region or '(none)')}</dd>"
        f"<dt>Page</dt><dd id=\"page\">{escape(path)}</dd>"
        "</dl>"
    )
    return document("AWS Management Console", body)
