"""What a run writes.

* ``tables``: CSV and Parquet tables, money as exact decimals;
* ``publish``: an output folder swapped into place atomically;
* ``manifest``: the tool, config, inputs with their accounting, and totals;
* ``report``: a scenario study's HTML report (``html``, ``charts``) and workbook.
"""
