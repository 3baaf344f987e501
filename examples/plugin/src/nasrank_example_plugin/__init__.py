"""An example nasrank plugin: one new ranking loss, ``focal_rank``
(:class:`nasrank_example_plugin.losses.FocalRankLoss`), registered when
:mod:`nasrank_example_plugin.losses` is imported."""
