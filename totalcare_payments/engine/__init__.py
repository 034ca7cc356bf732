"""The partitioned engine: a program split into buckets by member, one kernel per bucket,
the buckets' sums added up exactly.

``split`` writes the member-level inputs once into bucketed Parquet (each row keeps its
row number in its file), ``kernel`` works out one bucket's sums, ``run`` adds them up,
takes the program's global statistics from them and gives the same batch or settlement
as the program in one piece; ``execute`` runs the kernels in this process, on a pool of
processes or as Dask tasks.
"""

from .options import EngineOptions

__all__ = ["EngineOptions"]
