"""Training with Lightning: runner (``audiokit train``), resume callbacks, toy task.

Importing this package is cheap; Lightning is imported by its sub-modules
(``audiokit.train.runner``, ``callbacks``, ``toy``...), never by ``import audiokit``.
"""
