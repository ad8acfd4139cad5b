"""label — the label document, annotations with provenance, agreement, weak supervision,
active-learning queues and label-error ranking."""

from flywheel_ml.label.agreement import AgreementReport
from flywheel_ml.label.entities import (
    Annotation,
    Guide,
    GuideClass,
    LabelFunction,
    LabelRecord,
    Progress,
    Queue,
    QueueItem,
    Task,
)
from flywheel_ml.label.stage import (
    Aggregation,
    LabelStage,
    ModelLoader,
    ProbaModel,
    SuspectReport,
    TaskView,
)
from flywheel_ml.label.store import LabelStore

__all__ = [
    "Aggregation",
    "AgreementReport",
    "Annotation",
    "Guide",
    "GuideClass",
    "LabelFunction",
    "LabelRecord",
    "LabelStage",
    "LabelStore",
    "ModelLoader",
    "ProbaModel",
    "Progress",
    "Queue",
    "QueueItem",
    "SuspectReport",
    "Task",
    "TaskView",
]
