"""The algorithm suite. Importing this package registers every learner by name."""

from metaopt.algorithms.abml import ABML
from metaopt.algorithms.anil import ANIL
from metaopt.algorithms.base import (
    LearnerConfig,
    MetaLearner,
    available_learners,
    build_config,
    get_learner,
    register,
    task_loss,
    task_metric,
)
from metaopt.algorithms.maml import FOMAML, MAML, maml_update
from metaopt.algorithms.maml_rl import FOMAMLRL, MAMLRL
from metaopt.algorithms.mamlpp import MAMLPlusPlus
from metaopt.algorithms.matching import MatchingNet
from metaopt.algorithms.metacurvature import MetaCurvature
from metaopt.algorithms.metalstm import MetaLSTM
from metaopt.algorithms.metanet import MetaNet
from metaopt.algorithms.metasgd import MetaSGD
from metaopt.algorithms.protonet import ProtoNet
from metaopt.algorithms.relation import RelationNet
from metaopt.algorithms.reptile import Reptile
from metaopt.algorithms.rl2 import RL2
from metaopt.algorithms.siamese import SiameseNet
from metaopt.algorithms.snail import SNAIL
from metaopt.algorithms.taml import TAML

__all__ = [
    "LearnerConfig",
    "MetaLearner",
    "available_learners",
    "build_config",
    "get_learner",
    "register",
    "task_loss",
    "task_metric",
    "MAML",
    "FOMAML",
    "ANIL",
    "MetaSGD",
    "MAMLPlusPlus",
    "MetaCurvature",
    "Reptile",
    "TAML",
    "RL2",
    "ABML",
    "ProtoNet",
    "MatchingNet",
    "RelationNet",
    "SiameseNet",
    "MetaLSTM",
    "SNAIL",
    "MetaNet",
    "MAMLRL",
    "FOMAMLRL",
    "maml_update",
]
