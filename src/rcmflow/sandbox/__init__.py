"""The sandbox payer: a deterministic simulator of payers and a clearinghouse, outside rcmflow, that reads the
837s and 270s rcmflow drops in a folder and answers the way real payers do (999, 277CA, 835, 271, and the
bank's BAI2 file of the EFTs). Used by tests and by ``rcmflow demo``; see docs/design/sandbox.md.
"""

from rcmflow.sandbox.profiles import DEFAULT_PROFILE, PROFILES, PayerProfile, profile_for
from rcmflow.sandbox.respond import respond
from rcmflow.sandbox.session import SandboxRun

__all__ = ["DEFAULT_PROFILE", "PROFILES", "PayerProfile", "SandboxRun", "profile_for", "respond"]
