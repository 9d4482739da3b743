"""Studies: the only code that runs the model.

Every study simulates through one runner (:mod:`cartsim.study.runner`), which
simulates each distinct pathway value set once and values it under every set of
costs, utilities and QALY losses that shares it, and returns a frozen result that
holds its analysis arrays and its tables (:mod:`cartsim.study.result`):

* :mod:`~cartsim.study.run` (``cartsim run``), :mod:`~cartsim.study.psa`,
  :mod:`~cartsim.study.dsa` (one-way and sweeps), :mod:`~cartsim.study.threshold`
  (at the point values and across PSA draws), :mod:`~cartsim.study.compare`,
  :mod:`~cartsim.study.validate` and :mod:`~cartsim.study.capacity`;
* their tables in the ``*_tables`` modules beside them, built from the analyses'
  pure functions over arrays (:mod:`cartsim.analysis`).

A study is the layer view of an analysis of the same name where one exists (the
PSA study runs the draws that :mod:`cartsim.analysis.psa` analyses). Studies never
print or write files: :mod:`cartsim.report` formats their results and
:mod:`cartsim.cli` runs them from the command line.
"""
