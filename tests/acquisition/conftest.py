"""Fixtures shared by the acquisition tests."""

from __future__ import annotations

import os

import pytest

# LSL on loopback only, quiet: the tests' streams never reach another machine or another test session
LSL_CFG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
[lab]
KnownPeers = {127.0.0.1}
SessionID = reengage-tests
[log]
level = -2
"""


@pytest.fixture(scope="module")
def lsl_cfg(tmp_path_factory):
    """The path of an LSL configuration for the tests, set as ``LSLAPICFG`` for pylsl in this process (read once,
    at its first call); pass it on to a subprocess's environment too."""
    cfg = tmp_path_factory.mktemp("lsl") / "lsl_api.cfg"
    cfg.write_text(LSL_CFG)
    old = os.environ.get("LSLAPICFG")
    os.environ["LSLAPICFG"] = str(cfg)
    yield str(cfg)
    if old is None:
        os.environ.pop("LSLAPICFG", None)
    else:
        os.environ["LSLAPICFG"] = old
