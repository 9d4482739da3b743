"""Formatting study results: tables as CSV, Markdown and terminal text, results
folders written atomically with their manifest, the PSA checkpoint, plots, the HTML
report and the workbook.

Nothing here computes a result: every number comes from a study result
(:mod:`cartsim.study`) or from a results folder read back (``folder_reader``).
``render`` renders a :class:`~cartsim.table.Table`; ``folder`` turns a study result
into the files of its folder, ``run.json`` (the manifest) included, and ``atomic``
writes them; ``terminal`` makes the summaries the CLI prints. The checkpoint of a PSA is
file I/O, so it lives here too (``checkpoint``): the study only hands finished
draws to a callback, and a notebook can run a PSA without touching the disk.
"""
