"""The profile picker: `export`, `exec`, `console` and `write` with no PROFILE on a terminal.

Built on prompt_toolkit (pure Python, kept up for years, the line editor under IPython and the AWS CLI v2's
own auto-prompt; it works in every terminal including the Windows console). Typing narrows the list as the
finder page does (tray.core.naming.ranked), arrows choose, Enter takes the choice, Ctrl-C leaves. The list
is drawn on stderr, so `eval "$(sso-tray export)"` still gets only the export lines on stdout. Never opened
when stdin or stderr is not a terminal: a script gets the usual usage error instead of a prompt that hangs.
"""

from __future__ import annotations

import sys

from tray.core.errors import UsageError


def _choices(config, session_name: str | None) -> dict:
    """Name a person types → its RoleProfile: the configured profiles and every role of the account lists
    to hand (cached, or listed now for a signed-in session); a signed-out session offers its profiles."""
    from tray.cli.roles import _discovery_for
    from tray.core.errors import TrayError
    from tray.core.identity.profiles import merge, shown_names

    sessions = [config.session(session_name)] if session_name else list(config.sessions.values())
    discoveries = {}
    for session in sessions:
        try:
            discoveries[session.name] = _discovery_for(session)
        except TrayError:
            continue
    profiles = [p for p in merge(config, discoveries) if p.session in sessions]
    return dict(zip(shown_names(profiles), profiles))


def pick_profile(config, session_name: str | None, command: str) -> str:
    """The PROFILE a person picks on the terminal; a usage error where there is no terminal to ask on."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError(f"the following arguments are required: PROFILE (sso-tray {command} PROFILE;"
                         " on a terminal, leave it out to pick one)")
    choices = _choices(config, session_name)
    if not choices:
        raise UsageError("no profiles to pick from: sign in (sso-tray login) or add a profile to the AWS config")
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.output import create_output
    from prompt_toolkit.validation import Validator

    from tray.core.naming import ranked

    def about(profile) -> str:
        account = f"{profile.account_name} {profile.account_id}" if profile.account_name else profile.account_id
        return f"{account} · {profile.role_name} · {profile.session.name}"

    fields = {name: [name, p.account_name or "", p.account_id, p.role_name] for name, p in choices.items()}

    class Matches(Completer):
        def get_completions(self, document, complete_event):
            for name in ranked(document.text, fields):
                yield Completion(name, start_position=-len(document.text_before_cursor), display_meta=about(choices[name]))

    keys = KeyBindings()

    @keys.add("enter")
    def take(event):  # Enter with none chosen takes the best match, as the finder page's Enter does
        buffer = event.current_buffer
        if buffer.text.strip() not in choices:
            best = ranked(buffer.text, fields)
            if best:
                buffer.text = best[0]
        buffer.validate_and_handle()

    prompt = PromptSession(output=create_output(stdout=sys.stderr), erase_when_done=True)
    try:
        answer = prompt.prompt(
            f"{command}: pick a profile (type to narrow, ↑ ↓, Enter) › ",
            completer=Matches(),
            complete_while_typing=True,
            validator=Validator.from_callable(lambda text: text.strip() in choices,
                                              error_message="not one of the profiles: choose one from the list", move_cursor_to_end=True),
            validate_while_typing=False,
            reserve_space_for_menu=12,
            key_bindings=keys,
            pre_run=lambda: prompt.default_buffer.start_completion(select_first=False),
        )
    except EOFError:
        raise UsageError("no profile picked") from None
    return answer.strip()
