"""The year-end shared-savings settlement, step by step.

* ``costs``: each attributed member-month's paid claims;
* ``stop_loss``: the per-member threshold and the truncation it takes from each practice;
* ``msr``: the minimum savings rate, fixed or from a table by population;
* ``waterfall``: budget to final payment, vectorized over rows of terms (``settle_rows``);
* ``year``: a performance year's member-level work and its settlement;
* ``summary``: settling from practice-level summaries.
"""
