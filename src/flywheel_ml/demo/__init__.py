"""The bundled demo project: a whole lifecycle pass on real data shipped with scikit-learn."""

from flywheel_ml.demo.tour import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
