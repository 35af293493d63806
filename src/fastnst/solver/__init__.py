"""The optimization method of Gatys et al.: solver, callbacks, targets, comparison report."""

from __future__ import annotations

from fastnst.solver.optimize import Callback, Progress, SolverConfig, SolverResult, optimize

__all__ = ["Callback", "Progress", "SolverConfig", "SolverResult", "optimize"]
