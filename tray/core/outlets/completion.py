"""Shell completion: scripts for bash, zsh and fish, and the names they ask `sso-tray __complete` for.

The scripts carry the commands and flags (taken from the parser when the script is made) and call
back into `sso-tray __complete profiles|sessions PREFIX` for names that change: the configured profiles
and sessions (the AWS config read as text) and every discovered role as ACCOUNT_NAME/ROLE_NAME, or
ACCOUNT_ID/ROLE_NAME once an id is being typed (the account caches on disk). No network, no AWS SDK import: it answers while a person waits on Tab.
"""

from __future__ import annotations

import json
import shlex

from tray.core.files import inifile, paths

SHELLS = ("bash", "zsh", "fish")
# A command spec: name -> {"flags": [...], "takes_profile": bool, "choices": [...]}; value flags separately.
FORMATS = ("bash", "zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json")


# --------------------------------------------------------------------------- names


def _config_sections() -> dict[str, dict[str, str]]:
    from tray.core.files.configwrite import section_key

    try:
        return inifile.read_sections(inifile.read_text(paths.aws_config_file()), key=section_key)
    except Exception:  # noqa: BLE001 - a completion never fails loudly: no names is the answer
        return {}


def profile_names(prefix: str = "") -> list[str]:
    """Configured role and `aws login` profiles (file order), then every discovered role as
    ACCOUNT_NAME/ROLE_NAME in number-aware order (ACCOUNT_ID/ROLE_NAME where a session has several accounts
    of one name, and for every role too when `prefix` starts with a digit, as an id does)."""
    from tray.core.naming import natural_key

    names = [key[len("profile ") :] for key, v in _config_sections().items()
             if key.startswith("profile ") and (v.get("sso_role_name") or v.get("login_session"))]
    by_id = prefix[:1].isdigit()
    folder = paths.app_cache_dir() / "accounts"
    discovered: list[str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            accounts = json.loads(path.read_text(encoding="utf-8"))["accounts"]
            ids_of: dict[str, set] = {}
            for a in accounts:
                ids_of.setdefault(a["accountName"].casefold(), set()).add(a["accountId"])
            for a in accounts:
                shared = len(ids_of[a["accountName"].casefold()]) > 1
                for account in {a["accountId"] if shared else a["accountName"], *([a["accountId"]] if by_id else [])}:
                    discovered += [f"{account}/{role}" for role in a["roles"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    folded = prefix.casefold()
    discovered = [name for name in discovered if name.casefold().startswith(folded)]  # fewer to sort while Tab waits
    return list(dict.fromkeys(names + sorted(discovered, key=natural_key)))


def session_names() -> list[str]:
    return [key[len("sso-session ") :] for key in _config_sections() if key.startswith("sso-session ")]


def answer(argv: list[str]) -> int:
    """`sso-tray __complete profiles|sessions [--] [PREFIX]`: matching names, one a line."""
    kind, rest = (argv[0] if argv else ""), [a for a in argv[1:] if a != "--"]
    prefix = rest[0] if rest else ""
    names = profile_names(prefix) if kind == "profiles" else session_names() if kind == "sessions" else []
    folded = prefix.casefold()  # names are matched in any case, as PROFILE is: `PROD-1/<Tab>` completes too
    out = "\n".join(n for n in names if n.casefold().startswith(folded))
    if out:
        print(out)
    return 0


# --------------------------------------------------------------------------- scripts


def script(shell: str, spec: dict[str, dict], value_flags: list[str]) -> str:
    if shell == "bash":
        return _bash(spec, value_flags)
    if shell == "zsh":
        return _zsh(spec, value_flags)
    return _fish(spec, value_flags)


def _words(items) -> str:
    return " ".join(items)


def _profile_commands(spec: dict[str, dict]) -> list[str]:
    return [name for name, s in spec.items() if s["takes_profile"]]


def _bash(spec: dict[str, dict], value_flags: list[str]) -> str:
    flag_cases = "".join(f"            {name}) flags={shlex.quote(_words(s['flags']))} ;;\n" for name, s in spec.items())
    choice_cases = "".join(
        f"        {name}) ((n_pos == 0)) && COMPREPLY=($(compgen -W {shlex.quote(_words(s['choices']))} -- \"$cur\")) ;;\n"
        for name, s in spec.items() if s["choices"]
    )
    profile_cmds = "|".join(_profile_commands(spec))
    return f"""# bash completion for sso-tray (made by `sso-tray completion bash`); profile names come from `sso-tray __complete`
_sso_tray_names() {{
    local IFS=$'\\n'
    COMPREPLY=($("${{COMP_WORDS[0]}}" __complete "$1" -- "$2" 2>/dev/null))
}}

_sso_tray() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd="" word i n_pos=0 skip=0 flags
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if ((skip)); then skip=0; continue; fi
        case $word in
            --)
                if [[ $cmd == exec ]]; then
                    if ((i + 1 == COMP_CWORD)); then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
                    return
                fi ;;
            {"|".join(value_flags)}) skip=1 ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$word; else ((n_pos++)); fi ;;
        esac
    done
    case $prev in
        --profile) _sso_tray_names profiles "$cur"; return ;;
        --sso-session) _sso_tray_names sessions "$cur"; return ;;
        --format) COMPREPLY=($(compgen -W {shlex.quote(_words(FORMATS))} -- "$cur")); return ;;
        {"|".join(value_flags)}) return ;;
    esac
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W {shlex.quote(_words([*spec, "--help", "--version"]))} -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        case $cmd in
{flag_cases}            *) flags="" ;;
        esac
        COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
        return
    fi
    case $cmd in
        {profile_cmds}) ((n_pos == 0)) && _sso_tray_names profiles "$cur" ;;
{choice_cases}    esac
}}
complete -F _sso_tray sso-tray
"""


def _zsh(spec: dict[str, dict], value_flags: list[str]) -> str:
    flag_cases = "".join(f"      {name}) flags=({_words(s['flags'])}) ;;\n" for name, s in spec.items())
    choice_cases = "".join(f"    {name}) ((n_pos == 0)) && compadd -- {_words(s['choices'])} ;;\n" for name, s in spec.items() if s["choices"])
    return f"""#compdef sso-tray
# zsh completion for sso-tray (made by `sso-tray completion zsh`); profile names come from `sso-tray __complete`
_sso_tray_names() {{
  local -a names
  names=(${{(f)"$(${{words[1]}} __complete $1 -- $PREFIX 2>/dev/null)"}})
  compadd -U -- $names  # -U: the names are matched already, in any case (PROD-1/ finds prod-1/…)
}}

_sso_tray() {{
  local cmd= word i n_pos=0 skip=0
  local -a flags
  for ((i = 2; i < CURRENT; i++)); do
    word=${{words[i]}}
    if ((skip)); then skip=0; continue; fi
    case $word in
      --)
        if [[ $cmd == exec ]]; then
          shift $i words
          ((CURRENT -= i))
          _normal
          return
        fi ;;
      ({"|".join(value_flags)}) skip=1 ;;
      (-*) ;;
      (*) if [[ -z $cmd ]]; then cmd=$word; else ((n_pos++)); fi ;;
    esac
  done
  case ${{words[CURRENT-1]}} in
    (--profile) _sso_tray_names profiles; return ;;
    (--sso-session) _sso_tray_names sessions; return ;;
    (--format) compadd -- {_words(FORMATS)}; return ;;
    ({"|".join(value_flags)}) _files; return ;;
  esac
  if [[ -z $cmd ]]; then
    compadd -- {_words([*spec, "--help", "--version"])}
    return
  fi
  if [[ $PREFIX == -* ]]; then
    case $cmd in
{flag_cases}    esac
    compadd -- $flags --help
    return
  fi
  case $cmd in
    ({"|".join(_profile_commands(spec))}) ((n_pos == 0)) && _sso_tray_names profiles ;;
{choice_cases}  esac
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _sso_tray "$@"
else
  compdef _sso_tray sso-tray
fi
"""


def _fish(spec: dict[str, dict], value_flags: list[str]) -> str:
    value_patterns = " ".join(value_flags)
    lines = [
        "# fish completion for sso-tray (made by `sso-tray completion fish`); profile names come from `sso-tray __complete`",
        "function __sso_tray_names",
        "    sso-tray __complete $argv[1] -- (commandline -ct) 2>/dev/null",
        "end",
        "function __sso_tray_positionals",
        "    # how many words follow the command that are neither flags nor their values",
        "    set -l tokens (commandline -opc)",
        "    set -l n 0",
        "    set -l skip 0",
        "    if test (count $tokens) -gt 2",
        "        for t in $tokens[3..(count $tokens)]",
        "            if test $skip = 1",
        "                set skip 0",
        "                continue",
        "            end",
        "            switch $t",
        f"                case {value_patterns}",
        "                    set skip 1",
        "                case '-*'",
        "                case '*'",
        "                    set n (math $n + 1)",
        "            end",
        "        end",
        "    end",
        "    echo $n",
        "end",
        "complete -c sso-tray -f",
        f"complete -c sso-tray -n __fish_use_subcommand -a {shlex.quote(_words(spec))}",
        "complete -c sso-tray -n __fish_use_subcommand -l version -d 'print the version'",
    ]
    for name, s in spec.items():
        seen = f"__fish_seen_subcommand_from {name}"
        for flag in s["flags"]:
            takes = " -r" if flag in value_flags else ""
            values = ""
            if flag == "--profile":
                values = " -a '(__sso_tray_names profiles)'"
            elif flag == "--sso-session":
                values = " -a '(__sso_tray_names sessions)'"
            elif flag == "--format":
                values = f" -a {shlex.quote(_words(FORMATS))}"
            lines.append(f"complete -c sso-tray -n {shlex.quote(seen)} -l {flag[2:]}{takes}{values}")
        first = f"{seen}; and test (__sso_tray_positionals) = 0"
        if s["takes_profile"]:
            lines.append(f"complete -c sso-tray -n {shlex.quote(first)} -a '(__sso_tray_names profiles)'")
        if s["choices"]:
            lines.append(f"complete -c sso-tray -n {shlex.quote(first)} -a {shlex.quote(_words(s['choices']))}")
    return "\n".join(lines) + "\n"
