"""Medicare's published Shared Savings Program settlements, as an acceptance test.

* ``puf``: one reader per published file layout, giving practice-level summaries;
* ``check``: each ACO re-settled with the shipped track presets, against CMS's result.
"""
