"""What every command prints through: one-line errors, and output that survives any console code page."""

from __future__ import annotations

import sys

from tray.core.errors import shown


def print_err(message: str) -> None:
    """One line on stderr; a message may carry a server's or a file's text, so it goes through `shown`."""
    print(f"sso-tray: {shown(message)}", file=sys.stderr, flush=True)


# What a console code page (cp932, cp949, cp1252) cannot show is written as its nearest ASCII.
_LOOKALIKES = {"—": "-", "–": "-", "…": "...", "·": "-", "‘": "'", "’": "'", "“": '"', "”": '"'}


def _console_replace(error: UnicodeEncodeError) -> tuple[str, int]:
    import unicodedata

    text = error.object[error.start:error.end]
    plain = (_LOOKALIKES.get(c) or unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?" for c in text)
    return "".join(plain), error.end


def survive_any_code_page() -> None:
    """Output redirected on Windows is encoded in the console's code page, where "—" or an account's
    name may have no character: replace those instead of dying on UnicodeEncodeError. "surrogateescape"
    (what Windows Python under Wine opens stdout with) fails on such a character just as "strict" does."""
    import codecs

    codecs.register_error("sso-tray-console", _console_replace)
    for stream in (sys.stdout, sys.stderr):  # None under pythonw.exe
        if hasattr(stream, "reconfigure") and stream.errors in ("strict", "surrogateescape"):
            stream.reconfigure(errors="sso-tray-console")
