"""Sticky arm assignment for a label under a gradual rollout: what the SDK does in-process per request.

A user (or session) id falls in bucket ``sha256(salt:rollout_id:unit) mod 10000``. At a ramp step of
``w`` percent the candidate serves buckets ``[0, 100·w)``; the control arm is the buckets the candidate
never reaches during the test, ``[100·W, 10000)`` with ``W`` the last step below 100. Buckets between
the two get the control version but belong to no arm (``outside``), so no user is ever counted in two
arms: candidates stay candidates as the ramp grows (monotone), control stays control, and the
assignment is a pure function of ids stored with the rollout, so it survives restarts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopstack.prompts._types import PromptVersion

BUCKETS = 10_000
CONTROL, CANDIDATE, OUTSIDE = "control", "candidate", "outside"


def bucket(salt: str, rollout_id: str, unit: str) -> int:
    """The user's bucket in ``0..9999`` (stable for a rollout; independent across rollouts)."""
    digest = hashlib.sha256(f"{salt}:{rollout_id}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def arm_of(b: int, candidate_pct: float, control_from_pct: float) -> str:
    """The arm of bucket ``b`` at a step serving the candidate to ``candidate_pct`` percent."""
    if b < round(candidate_pct * BUCKETS / 100):
        return CANDIDATE
    if b >= round(control_from_pct * BUCKETS / 100):
        return CONTROL
    return OUTSIDE


def control_from(steps: list[int]) -> int:
    """Where the control arm starts (percent): the last ramp step below 100 (the test's widest)."""
    below = [s for s in steps if s < 100]
    return max(below) if below else 0


@dataclass(frozen=True)
class RolloutArms:
    """What a label's cached payload carries while a rollout runs: both versions, the step and the salt."""

    id: str
    salt: str
    step: int
    candidate_pct: int
    control_from_pct: int
    candidate: PromptVersion

    def arm(self, unit: str) -> str:
        return arm_of(bucket(self.salt, self.id, unit), self.candidate_pct, self.control_from_pct)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "salt": self.salt,
            "step": self.step,
            "candidate_pct": self.candidate_pct,
            "control_from_pct": self.control_from_pct,
            "candidate": self.candidate.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutArms:
        from loopstack.prompts._types import PromptVersion

        return cls(
            id=str(data["id"]),
            salt=str(data["salt"]),
            step=int(data["step"]),
            candidate_pct=int(data["candidate_pct"]),
            control_from_pct=int(data["control_from_pct"]),
            candidate=PromptVersion.from_dict(dict(data["candidate"])),
        )
