"""monitor — drift against the training data, alert rules, staleness, live accuracy, the
feedback of production items into labelling and the turns of the flywheel."""

from flywheel_ml.monitor.binning import ReferenceBinning, fit_binning
from flywheel_ml.monitor.checks import CheckResult
from flywheel_ml.monitor.delayed_labels import LiveAccuracy
from flywheel_ml.monitor.drift import (
    ColumnDrift,
    DriftCounter,
    DriftOptions,
    DriftReport,
    adjust_p_values,
    compare,
    drift_of,
)
from flywheel_ml.monitor.drift_html import render_drift_html
from flywheel_ml.monitor.entities import (
    Alert,
    DelayedLabel,
    Rule,
    RuleEvaluation,
    StoredBinning,
    Turn,
    TurnStep,
)
from flywheel_ml.monitor.feedback import FeedbackOptions, Selected, select_feedback
from flywheel_ml.monitor.rules import ParsedRule, parse_rule
from flywheel_ml.monitor.stage import MonitorStage
from flywheel_ml.monitor.store import MonitorStore

__all__ = [
    "Alert",
    "CheckResult",
    "ColumnDrift",
    "DelayedLabel",
    "DriftCounter",
    "DriftOptions",
    "DriftReport",
    "FeedbackOptions",
    "LiveAccuracy",
    "MonitorStage",
    "MonitorStore",
    "ParsedRule",
    "ReferenceBinning",
    "Rule",
    "RuleEvaluation",
    "Selected",
    "StoredBinning",
    "Turn",
    "TurnStep",
    "adjust_p_values",
    "compare",
    "drift_of",
    "fit_binning",
    "parse_rule",
    "render_drift_html",
    "select_feedback",
]
