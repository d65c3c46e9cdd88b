"""One exception hierarchy: the CLI turns any ReengageError into one line on stderr and exit 2."""

from __future__ import annotations


class ReengageError(Exception):
    """Base of every error a user can cause (bad input, unusable device). Not for bugs."""


class InputError(ReengageError):
    """A file or argument that cannot be used; the message names the file and the place."""


class RecordingFormatError(InputError):
    """A recording file that is not in a format we read, or damaged beyond recovery."""


class BoardConfigError(InputError):
    """A board description (TOML) that is missing a key or has a wrong value."""


class DeviceError(ReengageError):
    """A serial port or BLE device that is absent, busy or not permitted."""


class CatalogError(ReengageError):
    """A catalog file that cannot be opened or is newer than this software understands."""


class Disconnected(Exception):
    """The device went away (unplug, reset, cable). Not a user error: the recorder catches it and decides
    whether to wait for the board to come back."""
