"""One handler per dialect, registered by profile kind (:data:`DIALECTS`): its runner, its unit identity and
its capture parser live together in one module.

- :mod:`.line` — ASCII line dialects (``ascii_line``), ACK/NAK and late-ACK resends;
- :mod:`.astm` — ASTM E1381/E1394 (``astm``), the LIMS as the receiving computer system;
- :mod:`.binary` — binary request/response frames with a CRC (``binary_frame``), channel worklists;
- :mod:`.modbus` — Modbus register maps polled on a schedule (``modbus``);
- :mod:`.files` — chromatography export files from a watch folder (``export_file``).
"""

from __future__ import annotations

from drivers.profiles import Profile, load_profile
from lims.acquisition.dialects import astm, binary, files, line, modbus
from lims.acquisition.dialects.base import DIALECTS, Dialect, register
from lims.acquisition.dialects.files import FILE_PROFILE

__all__ = ["DIALECTS", "FILE_PROFILE", "Dialect", "dialect_of", "register", "resolve",
           "astm", "binary", "files", "line", "modbus"]


def dialect_of(profile: Profile | None) -> Dialect:
    """The handler of a device profile (``None``: export files)."""
    return DIALECTS[FILE_PROFILE if profile is None else profile.dialect]


def resolve(profile_name: str) -> tuple[Dialect, Profile | None]:
    """The handler and profile of captures stored under ``profile_name`` (:data:`FILE_PROFILE` has no
    profile); :class:`drivers.errors.ProfileError` if the profile does not load."""
    if profile_name == FILE_PROFILE:
        return DIALECTS[FILE_PROFILE], None
    profile = load_profile(profile_name)
    return dialect_of(profile), profile
