"""An example nasrank plugin: one new ranking loss, ``focal_rank``
(:class:`nasrank_example_plugin.losses.FocalRankLoss`), registered when
:mod:`nasrank_example_plugin.losses` is imported, and one new predictor, ``knn``
(:func:`nasrank_example_plugin.predictors.build_knn`), registered when
:mod:`nasrank_example_plugin.predictors` is imported."""
