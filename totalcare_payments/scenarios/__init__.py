"""What-if settlements for actuaries.

* ``plan``: a scenario file (scenarios, a grid, a sensitivity table) as configs;
* ``settle``: every scenario settled in one vectorized pass, and the tornado;
* ``bootstrap``: the chance that noise alone passes a practice's MSR, by resampling members.
"""
