"""What every ``reengage`` command module shares: the data root, JSON on stdout, the stderr console."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rich.console import Console

from reengage.errors import InputError

err = Console(stderr=True)


def data_root(data: Path | None) -> Path:
    """``--data``, else ``$REENGAGE_DATA``, else ``recordings/`` in the working directory."""
    if data is not None:
        return data
    return Path(os.environ.get("REENGAGE_DATA", "recordings"))


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` options (``--mvc``, ``--channel``, ``--sim``) as a dict."""
    out = {}
    for v in values or []:
        if "=" not in v:
            raise InputError(f"{option} {v!r}: expected MUSCLE=VALUE")
        k, val = v.split("=", 1)
        out[k.strip()] = val.strip()
    return out


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def say(msg: str, style: str | None = None) -> None:
    """One message line on stderr, however long: ids and paths are not markup."""
    err.print(msg, style=style, markup=False, highlight=False, soft_wrap=True)
