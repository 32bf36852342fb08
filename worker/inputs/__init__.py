"""Pure readers for the three input files of SPEC section 5: bytes in, values and refusals out.

No database and no clock here: storing what is accepted, and reporting what is refused
(`accepted N, refused M`), is the caller's job.
"""

from worker.inputs.common import COLUMNS, Refusal, detect_kind, read_rows, unknown_header_reason
from worker.inputs.incidents import IncidentParse, parse_incidents
from worker.inputs.maintenance import MaintenanceParse, parse_maintenance
from worker.inputs.samples import SampleParse, parse_samples

__all__ = [
    "COLUMNS",
    "IncidentParse",
    "MaintenanceParse",
    "Refusal",
    "SampleParse",
    "detect_kind",
    "parse_incidents",
    "parse_maintenance",
    "parse_samples",
    "read_rows",
    "unknown_header_reason",
]
