"""sso-tray's reading of the AWS config (`tray.core.identity.config.read_config`) against botocore's own
`load_config`, file by file: the same sections, profiles, sessions, services and values, and a refusal
exactly where botocore refuses. A hand-written corpus of odd but valid files (and a few invalid ones),
then a few hundred files put together at random from odd lines.

botocore reads in the locale's encoding; it is asked in a child process in UTF-8 mode, so that both read
the corpus's UTF-8 the same on every platform (what each does with other encodings: test_config_encoding.py).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from tray.core.errors import ConfigError
from tray.core.identity.config import read_config

CORPUS = {
    "plain": "[default]\nregion = us-east-1\n\n[profile a]\nregion = eu-west-1\n",
    "comments": "# top\n; also a comment\n[default]\n# inside\nregion = us-east-1\n  ; indented comment\noutput = json\n",
    "inline hash is part of the value": "[default]\nregion = us-east-1 # not a comment\nx = a;b\n",
    "continuation": "[profile a]\ncredential_process = /bin/tool\n  --flag\n\t--other\nregion = r\n",
    "continuation with blank line inside": "[profile a]\nx = one\n  two\n\n  three\ny = z\n",
    "default and profile default, later wins": "[default]\nregion = a\n\n[profile default]\nregion = b\n",
    "profile default then default": "[profile default]\nregion = b\n\n[default]\nregion = a\n",
    "sso-session": "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
                   "sso_registration_scopes = sso:account:access, other\n\n[profile p]\nsso_session = corp\n",
    "services nested": "[services dev]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n  addressing_style = path\n"
                       "dynamodb =\n    endpoint_url=http://127.0.0.1:8000\n\n[profile a]\nservices = dev\n",
    "nested in a profile": "[profile a]\ns3 =\n  max_concurrent_requests = 20\n  signature_version = s3v4\nregion = r\n",
    "odd whitespace": "  [default]  \nregion=us-east-1\n\tkey2   =   spaced   \nkey3:colon\n[ profile  b ]\nregion = r\n",
    "header spacing makes two names one": "[profile a]\nregion = x\n\n[profile   a]\nregion = y\n",
    "quoted profile name": "[profile \"with space\"]\nregion = r\n\n[profile 'single q']\nregion = s\n",
    "unbalanced quote skipped": "[profile \"broken]\nregion = r\n\n[profile ok]\nregion = s\n",
    "three words skipped": "[profile a b]\nregion = r\n\n[sso-session x y]\nsso_region = r\n",
    "profile alone and profilex": "[profile]\nregion = r\n\n[profilex q]\nregion = s\n\n[sso-sessions q]\nsso_region = t\n",
    "other sections kept": "[preview]\ncloudfront = true\n\n[plugins]\ncli_legacy_plugin_path = /x\n\n[foo bar]\na = b\n",
    "unicode names": "[profile 開発]\nregion = ap-northeast-1\n\n[sso-session café]\nsso_start_url = https://x.awsapps.com/start\n"
                     "sso_region = eu-west-3\n\n[profile Ёлка]\nsso_session = café\n# коммент\n",
    "percent signs": "[default]\nx = 100%\ny = %(region)s\nz = %%\n",
    "crlf": "[default]\r\nregion = us-east-1\r\n\r\n[profile a]\r\nx = one\r\n  two\r\n",
    "lone cr": "[default]\rregion = us-east-1\r[profile a]\rx = y\r",
    "no final newline": "[default]\nregion = us-east-1",
    "empty values": "[default]\nregion =\nother=\n",
    "keys lowercased": "[default]\nRegion = us-east-1\nSSO_Start_URL = https://x\n",
    "DEFAULT section": "[DEFAULT]\nregion = everywhere\n\n[profile a]\nx = 1\n\n[default]\ny = 2\n",
    "empty file": "",
    "comments only": "# nothing here\n; nor here\n",
    "equals in value": "[default]\nx = a=b=c\ny: c:d\n",
    "brackets in value": "[default]\nx = [not a header]\n",
    "tab indented header is a continuation": "[default]\nx = 1\n\t[profile a]\ny = 2\n",
    "unicode whitespace and separators": "[default]\nx = a\u00a0\ny = b\u2028c\nz = \u3000w\u3000\n",
    "form feed and vertical tab": "[default]\nx = a\x0cb\ny = c\x0bd\n",
    "nested value splitting at unicode line breaks": "[services s]\ns3 =\n  a = 1\u2028b = 2\n",
    "services and sso-session and profile of one name": "[services x]\ns3 =\n  a = b\n\n[sso-session x]\nsso_region = r\n\n[profile x]\nservices = x\n",
    # refused by botocore (configparser is strict), so refused here too
    "duplicate section": "[profile a]\nx = 1\n\n[profile a]\nx = 2\n",
    "duplicate key": "[default]\nx = 1\nx = 2\n",
    "duplicate key differing in case": "[default]\nx = 1\nX = 2\n",
    "key before any section": "x = 1\n[default]\n",
    "line with no equals": "[default]\njust words\n",
    "nested line with no equals": "[services s]\ns3 =\n  no equals here\n",
    "unclosed header": "[default\nx = 1\n",
}

_BOTOCORE = """
import json, sys
from botocore.configloader import load_config
from botocore.exceptions import ConfigParseError
out = []
for path in sys.argv[1:]:
    try:
        out.append(load_config(path))
    except ConfigParseError:
        out.append("refused")
print(json.dumps(out))
"""


def _botocore_views(paths) -> list:
    """botocore's `load_config` of each file, "refused" for a ConfigParseError, in UTF-8 mode."""
    result = subprocess.run([sys.executable, "-X", "utf8=1", "-c", _BOTOCORE, *map(str, paths)],
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _our_view(path):
    try:
        return read_config(path)
    except ConfigError:
        return "refused"


def _write(folder, texts: dict) -> dict:
    paths = {}
    for n, (name, text) in enumerate(texts.items()):
        paths[name] = folder / f"config-{n}"
        paths[name].write_bytes(text.encode("utf-8"))
    return paths


def test_the_corpus_reads_as_botocore_reads_it(tmp_path):
    paths = _write(tmp_path, CORPUS)
    expected = dict(zip(paths, _botocore_views(paths.values())))
    for name, path in paths.items():
        assert _our_view(path) == expected[name], name
    # the corpus exercises what it says it does
    assert expected["services nested"]["services"]["dev"]["s3"] == {"endpoint_url": "http://127.0.0.1:9000", "addressing_style": "path"}
    assert expected["default and profile default, later wins"]["profiles"]["default"] == {"region": "b"}
    assert expected["unicode names"]["profiles"]["開発"] == {"region": "ap-northeast-1"}
    assert sum(view == "refused" for view in expected.values()) == 7


# Lines an AWS config may hold, odd ones weighted up; whole files are drawn from them at random.
_LINES = [
    "[default]", "[profile a]", "[profile  a ]", "[ profile b]", "[profile \"c d\"]", "[profile 開発]",
    "[sso-session s]", "[sso-session  s]", "[services svc]", "[services]", "[preview]", "[profile]", "[DEFAULT]",
    "region = us-east-1", "region=eu-west-1", "Region : ap-south-1", "sso_session = s", "output = json # c",
    "s3 =", "  endpoint_url = http://127.0.0.1:1", "  addressing_style=path", "\tmax = 10", "   ",
    "# comment", "; comment", "  # indented comment", "x = 100%", "y = %(x)s", "z = naïve ✓", "", "",
    "credential_process = tool", "    --flag value", "w =", "  k = v = w",
]


def _random_config(rng: random.Random) -> str:
    eol = rng.choice(["\n", "\n", "\r\n", "\r"])
    lines = [rng.choice(_LINES) for _ in range(rng.randint(0, 14))]
    if rng.random() < 0.8:
        lines.insert(0, rng.choice(_LINES[:13]))
    return eol.join(lines) + (eol if rng.random() < 0.8 else "")


@pytest.mark.parametrize("seed", range(3))
def test_random_configs_read_as_botocore_reads_them(tmp_path, seed):
    rng = random.Random(seed)
    texts = {f"random {seed}/{n}": _random_config(rng) for n in range(150)}
    paths = _write(tmp_path, texts)
    expected = _botocore_views(paths.values())
    for (name, path), view in zip(paths.items(), expected):
        assert _our_view(path) == view, (name, texts[name])
    accepted = [view for view in expected if view != "refused"]
    assert len(accepted) > 20 and any(view["profiles"] for view in accepted)  # not all refusals
