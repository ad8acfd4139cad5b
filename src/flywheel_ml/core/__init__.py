"""Shared vocabulary of every stage: typed ids, content digests, the clock, who acts.

Imports nothing else from Flywheel but ``errors``.
"""

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import Digest, digest_bytes, digest_file, parse_digest
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id

__all__ = [
    "Digest",
    "current_actor",
    "digest_bytes",
    "digest_file",
    "new_id",
    "parse_digest",
    "utc_now",
]
