"""The input contract: the tables a program reads, declared once, and how they are read.

* ``schema``: every table's file name, columns, kinds and keys, as data;
* ``read``: reading a file's declared columns (Parquet or CSV);
* ``checks``: the column and key checks, and ``Table``, a checked file;
* ``claims``: the claims file, read and checked a row group at a time;
* ``columns``: how checked columns are stored (numpy arrays, Arrow chunks, codes);
* ``readahead``: a handle decoding large files ahead of the reader;
* ``policy``: which rejected rows fail a run.

This package's ``__init__`` loads nothing, so that ``readahead`` can start before pandas.
"""
