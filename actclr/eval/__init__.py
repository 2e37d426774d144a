"""Evaluation of pretrained encoders (see ``docs/evaluation.md``).

``features`` (frozen-encoder features), ``holdout`` (validation split from the training split,
the one reader of labels), ``fit`` + ``recipes`` (SGD with model selection), ``protocol`` (the
single test evaluation), ``linear``, ``knn``, ``finetune``, ``ensemble``, ``segmentation``,
``actionlets``, ``metrics`` (pure functions of confusion matrices), ``encoders`` (checkpoint
loading) and ``report`` (outputs and tables).
"""
