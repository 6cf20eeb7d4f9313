"""The safety scorers, registered by importing this module (the ``loopstack.scorers`` entry point does).

``toxicity_judge``, ``toxicity_classifier``, ``refusal``, ``refusal_judge`` and ``redteam_attack``.
"""

from loopstack.safety.detectors import RedteamAttack, RefusalJudge, refusal
from loopstack.safety.toxicity import ToxicityClassifier, ToxicityJudge

__all__ = ["RedteamAttack", "RefusalJudge", "ToxicityClassifier", "ToxicityJudge", "refusal"]
