"""White et al. (2021)'s sparse Gaussian processes, with GPyTorch (kind ``tree``: fitted on
the min-max scaled target, inputs standardised by the trainer, tensors flattened).

* ``sparse_gp``: the SGPR of Titsias (2009): an exact GP whose kernel is the Nystroem
  approximation through ``num_inducing`` inducing points (GPyTorch's
  ``InducingPointKernel`` over ``ScaleKernel(RBF)``); kernel hyper-parameters, noise and
  inducing locations by maximising the collapsed marginal likelihood.
* ``var_sparse_gp``: the variational sparse GP of Hensman et al. (2015): GPyTorch's
  ``ApproximateGP`` with a ``VariationalStrategy`` (learned inducing locations) and a
  Cholesky variational distribution, fitted by maximising the ELBO on all training
  points.

Both follow NASLib (pyro's ``SparseGPRegression`` and ``VariationalSparseGP``) in using 10
inducing points, an RBF kernel and Adam; NASLib placed its inducing points on a fixed
ramp (``arange(10) / 2`` in every dimension), we start them at ``num_inducing``
training inputs drawn with the seed (all of them when there are fewer), which places
them in the data's range on standardised inputs, and start the RBF length scale at the
median distance between training inputs (GPyTorch's 0.69 on wide one-hot inputs makes
every test point uncorrelated with the training points: a constant prediction, as the
``gp`` predictor found). ``steps`` Adam steps (default 200) at
learning rate ``learning_rate`` (0.05), full batch; float64 on one CPU thread, so a fit
is a pure function of data, options and seed. The prediction is the posterior mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrank.predictors.trees import TreePredictor, _require


def _models() -> Any:
    """The two GPyTorch model classes (defined on first use: gpytorch is imported late)."""
    gpytorch = _require("gpytorch", "gpytorch")

    class SGPR(gpytorch.models.ExactGP):
        def __init__(self, x: Any, y: Any, inducing: Any, likelihood: Any) -> None:
            super().__init__(x, y, likelihood)
            self.mean_module = gpytorch.means.ConstantMean()
            base = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())
            self.covar_module = gpytorch.kernels.InducingPointKernel(
                base, inducing_points=inducing, likelihood=likelihood)

        def forward(self, x: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x),
                                                             self.covar_module(x))

    class SVGP(gpytorch.models.ApproximateGP):
        def __init__(self, inducing: Any) -> None:
            dist = gpytorch.variational.CholeskyVariationalDistribution(inducing.shape[0])
            strategy = gpytorch.variational.VariationalStrategy(
                self, inducing, dist, learn_inducing_locations=True)
            super().__init__(strategy)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

        def forward(self, x: Any) -> Any:
            return gpytorch.distributions.MultivariateNormal(self.mean_module(x),
                                                             self.covar_module(x))

    return gpytorch, SGPR, SVGP


def _median_distance(x: Any) -> float:
    """The median distance between distinct training inputs (1 if they coincide): the
    RBF length scale starts there (see :mod:`nasrank.predictors.regressors`' ``gp``)."""
    import torch

    d = torch.pdist(x)
    d = d[d > 0]
    return float(d.median()) if d.numel() else 1.0


class _SparseGP(TreePredictor):
    variational = False

    def fit(self, x: Any, y: Any) -> _SparseGP:
        import torch

        from nasrank.train import one_thread

        gpytorch, SGPR, SVGP = _models()
        xt = torch.from_numpy(self._matrix(x).astype(np.float64))
        yt = torch.from_numpy(np.asarray(y, dtype=np.float64).reshape(-1))
        o = self.options
        with one_thread("cpu"), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            pick = torch.randperm(len(xt))[: o["num_inducing"]]
            inducing = xt[pick].clone()
            likelihood = gpytorch.likelihoods.GaussianLikelihood().double()
            if self.variational:
                model = SVGP(inducing).double()
                mll = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=len(yt))
                params = [*model.parameters(), *likelihood.parameters()]
            else:
                model = SGPR(xt, yt, inducing, likelihood).double()
                mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
                params = list(model.parameters())  # the likelihood's are the model's
            rbf = model.covar_module
            rbf = (rbf.base_kernel if not self.variational else rbf).base_kernel
            rbf.lengthscale = _median_distance(xt)
            model.train()
            likelihood.train()
            adam = torch.optim.Adam(params, lr=o["learning_rate"])
            with gpytorch.settings.cholesky_jitter(1e-5):
                for _ in range(o["steps"]):
                    adam.zero_grad()
                    (-mll(model(xt), yt)).backward()
                    adam.step()
        model.eval()
        likelihood.eval()
        self.model = model
        return self

    def predict(self, x: Any) -> np.ndarray:
        import gpytorch
        import torch

        from nasrank.train import one_thread

        if self.model is None:
            raise RuntimeError(f"{self.name}: predict() before fit()")
        xt = torch.from_numpy(self._matrix(x).astype(np.float64))
        with torch.no_grad(), one_thread("cpu"), gpytorch.settings.cholesky_jitter(1e-5):
            return self.model(xt).mean.numpy().astype(np.float64)


class SparseGPPredictor(_SparseGP):
    """SGPR (Titsias 2009) with inducing points."""

    name = "sparse_gp"


class VarSparseGPPredictor(_SparseGP):
    """Variational sparse GP (Hensman et al. 2015)."""

    name = "var_sparse_gp"
    variational = True


__all__ = ["SparseGPPredictor", "VarSparseGPPredictor"]
