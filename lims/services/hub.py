"""Moved to :mod:`lims.hub` (issue 14); these names stay importable for existing callers."""

from lims.hub.receive import HubAnswer as HubAnswer
from lims.hub.registry import register_lab_key as register_lab_key
