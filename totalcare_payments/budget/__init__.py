"""Budgets from history: a practice's benchmark built the way actuaries and CMS build it.

* ``benchmark``: the arithmetic as pure functions over arrays shaped
  (..., segment, baseline year): per-capita cost restated at the last baseline year's
  risk, trended, weighted by baseline year, mixed by segment, blended with a reference
  (regional) cost, then risk-adjusted with a capped ratio and updated to the
  performance year.
"""
