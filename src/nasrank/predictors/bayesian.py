"""White et al. (2021)'s Bayesian and ensemble model-based predictors, as fit/predict
regressors (kind ``tree``: fitted on the min-max scaled target, inputs standardised by
the trainer, tensors flattened).

* ``blr``: Bayesian linear regression on the encoding: scikit-learn's ``BayesianRidge``
  (Gaussian prior on the weights, precisions of prior and noise by maximising the
  marginal likelihood; NASLib's ``BayesianLinearRegression`` from pybnn). The
  prediction is the posterior mean.
* ``ngboost``: natural-gradient boosting (Duan et al. 2020) with a Normal predictive
  distribution and the log score, the ``ngboost`` package; NASLib's defaults: 505
  rounds, learning rate 0.0813, mini-batch fraction 0.508, base learner a
  ``friedman_mse`` regression tree (scikit-learn >= 1.9: ``squared_error``, the same
  criterion) of depth 6 with max_features 0.792,
  min_samples_leaf 15 and min_samples_split 20. Our choice: the two minimums are
  capped at a quarter and a half of the mini-batch (at least 1 and 2), as for
  LightGBM; with fewer than 60 architectures NASLib's leave no split and NGBoost
  predicts a constant.
* ``dngo``: DNGO (Snoek et al. 2015; NASLib via pybnn): an MLP (3 x 50, tanh) fitted
  with mean squared error, then Bayesian linear regression (``BayesianRidge``) on its
  last hidden layer; the prediction is the posterior mean. pybnn trains 500 epochs of
  batch 10 at learning rate 0.01; our default is 200 epochs of batch 32 at 0.01 (the
  fits of the default grid stay within minutes on two CPU cores; ``epochs`` and
  ``batch_size`` restore pybnn's).
* ``bananas``: the BANANAS predictor (White et al. 2021b): an ensemble of
  ``members`` feed-forward networks (default 3, NASLib's ``num_ensemble``; BANANAS
  used 5) of ``layers`` x ``width`` ReLU units (BANANAS: 10 x 20), each with its own
  initialisation and batch order, trained with Adam (learning rate 0.01, 200 epochs,
  batch 32) on the mean absolute percentage error above a lower bound,
  ``|(pred - lb) / (y - lb) - 1|``. BANANAS put the bound below the best error; on
  our scaled target (0 = worst training architecture, 1 = best) the bound is
  ``lower_bound`` (default -0.1, below every label). Its encoding is ``path`` in
  the family grid (BANANAS's path encoding). The prediction is the ensemble mean.

* ``bonas``: BONAS's predictor (Shi et al. 2020): a GCN embedding of the cell (our
  directed ``gcn`` network on the ``gcn`` encoding, mean readout) trained with mean
  squared error, then Bayesian linear regression (``BayesianRidge``) on the embedding;
  the prediction is the posterior mean. Settings after NASLib's BONAS: hidden width 64,
  4 graph layers, Adam at learning rate 0.01, batch 128, 100 epochs, no dropout.

* ``bohamiann``: BOHAMIANN (Springenberg et al. 2016; NASLib via pybnn): a Bayesian MLP
  (3 x 50, tanh, with a learned homoscedastic noise level) whose weights are sampled by
  scale-adapted stochastic-gradient Hamiltonian Monte Carlo; the prediction is the mean
  over the kept samples. pybnn's sampler settings (step 0.01, momentum decay 0.05, batch
  20) with a shorter chain by default: ``steps`` 3000 of which ``burn_in`` 1000, keeping
  every 50th (40 samples; pybnn: 13,000 steps, 3,000 burn-in, every 100th). Prior: a
  standard normal on every weight.

The networks train in float32 on one CPU thread with a seeded ``torch.Generator``: a
fit is a pure function of data, options and seed. The ensemble trains as one stacked
network (a batched matmul per layer), so members cost one forward pass.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nasrank.predictors.trees import TreePredictor, _require


class BLRPredictor(TreePredictor):
    """scikit-learn ``BayesianRidge``; options are its keyword arguments."""

    name = "blr"

    def _make_model(self) -> Any:
        linear = _require("sklearn.linear_model", "scikit-learn")
        return linear.BayesianRidge(**self.options)


class NGBoostPredictor(TreePredictor):
    """``ngboost.NGBRegressor`` (Normal, LogScore) on regression trees."""

    name = "ngboost"

    def fit(self, x: Any, y: Any) -> NGBoostPredictor:
        rows = int(self._matrix(x).shape[0] * self.options["minibatch_frac"])
        self._leaf = min(self.options["min_samples_leaf"], max(1, rows // 4))
        self._split = min(self.options["min_samples_split"], max(2, rows // 2))
        super().fit(x, y)
        return self

    def _make_model(self) -> Any:
        ngboost = _require("ngboost", "ngboost")
        tree = _require("sklearn.tree", "scikit-learn")
        o = self.options
        base = tree.DecisionTreeRegressor(
            criterion="squared_error", max_depth=o["max_depth"],
            max_features=o["max_features"], min_samples_leaf=self._leaf,
            min_samples_split=self._split, random_state=self.seed)
        return ngboost.NGBRegressor(
            Dist=ngboost.distns.Normal, Score=ngboost.scores.LogScore, Base=base,
            n_estimators=o["n_estimators"], learning_rate=o["learning_rate"],
            minibatch_frac=o["minibatch_frac"], random_state=self.seed, verbose=False)


# ----------------------------------------------------------------------- networks


def _activation(name: str) -> Callable[[Any], Any]:
    import torch

    return {"relu": torch.relu, "tanh": torch.tanh}[name]


class StackedMLP:
    """``members`` independent MLPs of the same shape as stacked weight tensors.

    Xavier-uniform weights and zero biases (the Keras initialisation BANANAS used),
    drawn from ``generator``.
    """

    def __init__(self, n_in: int, hidden: Sequence[int], members: int, activation: str,
                 generator: Any) -> None:
        import torch

        dims = [n_in, *hidden, 1]
        self.weights: list[Any] = []
        self.biases: list[Any] = []
        for d_in, d_out in itertools.pairwise(dims):
            bound = math.sqrt(6.0 / (d_in + d_out))
            w = (torch.rand(members, d_in, d_out, generator=generator) * 2 - 1) * bound
            self.weights.append(w.requires_grad_())
            self.biases.append(torch.zeros(members, 1, d_out, requires_grad=True))
        self.act = _activation(activation)

    def parameters(self) -> list[Any]:
        return [*self.weights, *self.biases]

    def hidden(self, x: Any) -> Any:
        """Last hidden layer ``(members, B, width)`` of inputs ``(members, B, n_in)``."""
        import torch

        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.act(torch.baddbmm(b, h, w))
        return h

    def __call__(self, x: Any) -> Any:
        import torch

        return torch.baddbmm(self.biases[-1], self.hidden(x), self.weights[-1]).squeeze(-1)


def train_stacked(x: np.ndarray, y: np.ndarray, *, hidden: Sequence[int], members: int,
                  activation: str, epochs: int, batch_size: int, learning_rate: float,
                  loss: Callable[[Any, Any], Any], seed: int) -> StackedMLP:
    """Fit ``members`` MLPs on ``(x, y)`` with Adam, each with its own batch order.

    The summed per-member mean loss gives every member its own gradient (Adam is
    element-wise), so member ``i`` trains as if alone.
    """
    import torch

    from nasrank.train import one_thread

    with one_thread("cpu"):
        g = torch.Generator().manual_seed(int(seed))
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        net = StackedMLP(xt.shape[1], hidden, members, activation, g)
        adam = torch.optim.Adam(net.parameters(), lr=learning_rate)
        n = len(xt)
        for _ in range(epochs):
            order = torch.stack([torch.randperm(n, generator=g) for _ in range(members)])
            for start in range(0, n, batch_size):
                idx = order[:, start:start + batch_size]
                adam.zero_grad()
                loss(net(xt[idx]), yt[idx]).mean(dim=1).sum().backward()
                adam.step()
    return net


class _NetworkPredictor(TreePredictor):
    """A torch network behind the fit/predict interface."""

    def _check_training(self) -> None:
        from nasrank import options as opt

        what = opt.subject("predictor", self.name)
        for key in ("epochs", "batch_size"):
            opt.integer(what, key, self.options[key], min_value=1)
        opt.number(what, "learning_rate", self.options["learning_rate"], min_value=0,
                   strict_min=True)

    def _train(self, x: np.ndarray, y: np.ndarray, hidden: Sequence[int], members: int,
               activation: str, loss: Callable[[Any, Any], Any]) -> StackedMLP:
        o = self.options
        return train_stacked(x, y, hidden=hidden, members=members, activation=activation,
                             epochs=o["epochs"], batch_size=o["batch_size"],
                             learning_rate=o["learning_rate"], loss=loss, seed=self.seed)


class BananasPredictor(_NetworkPredictor):
    """BANANAS's ensemble of MLPs with the MAPE loss."""

    name = "bananas"

    def fit(self, x: Any, y: Any) -> BananasPredictor:
        matrix = self._matrix(x)
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        lb = float(self.options["lower_bound"])
        if not lb < target.min():
            raise ValueError(f"bananas: lower_bound {lb} is not below every label "
                             f"(min {target.min():g})")

        def mape(pred: Any, true: Any) -> Any:
            return ((pred - lb) / (true - lb) - 1).abs()

        o = self.options
        self.model = self._train(matrix, target, [o["width"]] * o["layers"], o["members"],
                                 "relu", mape)
        return self

    def predict(self, x: Any) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError("bananas: predict() before fit()")
        m = self.options["members"]
        xt = torch.from_numpy(self._matrix(x)).expand(m, -1, -1)
        with torch.no_grad():
            return self.model(xt).mean(dim=0).double().numpy()


class DNGOPredictor(_NetworkPredictor):
    """DNGO: MLP features, Bayesian linear regression on the last hidden layer."""

    name = "dngo"

    def fit(self, x: Any, y: Any) -> DNGOPredictor:
        import torch

        linear = _require("sklearn.linear_model", "scikit-learn")
        matrix = self._matrix(x)
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        self.model = self._train(matrix, target, self.options["hidden"], 1, "tanh",
                                 lambda p, t: (p - t) ** 2)
        with torch.no_grad():
            feats = self.model.hidden(torch.from_numpy(matrix)[None])[0].double().numpy()
        self.blr = linear.BayesianRidge().fit(feats, target)
        return self

    def predict(self, x: Any) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError("dngo: predict() before fit()")
        with torch.no_grad():
            feats = self.model.hidden(torch.from_numpy(self._matrix(x))[None])[0]
        return np.asarray(self.blr.predict(feats.double().numpy()), dtype=np.float64)


class BONASPredictor(TreePredictor):
    """BONAS: GCN embedding + Bayesian linear regression on it."""

    name = "bonas"

    def __init__(self, input_shape: Sequence[int], layout: dict[str, Any], seed: int = 0,
                 **options: Any) -> None:
        super().__init__(input_shape, seed=seed, **options)
        self.layout = dict(layout)

    def _graphs(self, x: Any) -> Any:
        import torch

        return torch.from_numpy(self._matrix(x).reshape(-1, *self.input_shape))

    def fit(self, x: Any, y: Any) -> BONASPredictor:
        import torch

        from nasrank.predictors.networks import GCN
        from nasrank.train import one_thread

        linear = _require("sklearn.linear_model", "scikit-learn")
        o = self.options
        xt = self._graphs(x)
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        yt = torch.from_numpy(target.astype(np.float32))
        with one_thread("cpu"), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = GCN(self.input_shape, self.layout, o["hidden"], o["layers"], 0.0)
            g = torch.Generator().manual_seed(self.seed)
            adam = torch.optim.Adam(net.parameters(), lr=o["learning_rate"])
            net.train()
            for _ in range(o["epochs"]):
                order = torch.randperm(len(xt), generator=g)
                for start in range(0, len(xt), o["batch_size"]):
                    idx = order[start:start + o["batch_size"]]
                    adam.zero_grad()
                    torch.mean((net(xt[idx])[0] - yt[idx]) ** 2).backward()
                    adam.step()
            net.eval()
            with torch.no_grad():
                feats = net(xt)[1].double().numpy()
        self.model = net
        self.blr = linear.BayesianRidge().fit(feats, target)
        return self

    def predict(self, x: Any) -> np.ndarray:
        import torch

        from nasrank.train import one_thread

        if self.model is None:
            raise RuntimeError("bonas: predict() before fit()")
        with torch.no_grad(), one_thread("cpu"):
            feats = self.model(self._graphs(x))[1].double().numpy()
        return np.asarray(self.blr.predict(feats), dtype=np.float64)


class BOHAMIANNPredictor(TreePredictor):
    """BOHAMIANN: a Bayesian MLP sampled by scale-adapted SGHMC."""

    name = "bohamiann"

    def fit(self, x: Any, y: Any) -> BOHAMIANNPredictor:
        import torch

        from nasrank.train import one_thread

        o = self.options
        xt = torch.from_numpy(self._matrix(x))
        yt = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1))
        n = len(xt)
        self.samples: list[list[Any]] = []
        with one_thread("cpu"):
            g = torch.Generator().manual_seed(self.seed)
            net = StackedMLP(xt.shape[1], o["hidden"], 1, "tanh", g)
            log_noise = torch.full((), math.log(1e-3), requires_grad=True)
            params = [*net.parameters(), log_noise]
            state = [_SGHMCState(p) for p in params]
            lr, mdecay = o["step_size"], o["mdecay"]
            for step in range(o["steps"]):
                idx = torch.randint(n, (min(o["batch_size"], n),), generator=g)
                var = torch.exp(log_noise)
                nll = 0.5 * ((net(xt[idx][None])[0] - yt[idx]) ** 2 / var + log_noise).mean()
                prior = sum(0.5 * (p ** 2).sum() for p in net.parameters())
                for p in params:
                    p.grad = None
                (nll * n + prior).backward()
                with torch.no_grad():
                    for p, st in zip(params, state, strict=True):
                        st.update(p, lr, mdecay, burn_in=step < o["burn_in"], generator=g)
                if step >= o["burn_in"] and (step - o["burn_in"]) % o["keep_every"] == 0:
                    self.samples.append([p.detach().clone() for p in net.parameters()])
        self.model = net
        return self

    def predict(self, x: Any) -> np.ndarray:
        import torch

        from nasrank.train import one_thread

        if self.model is None:
            raise RuntimeError("bohamiann: predict() before fit()")
        xt = torch.from_numpy(self._matrix(x))[None]
        out = []
        with torch.no_grad(), one_thread("cpu"):
            for sample in self.samples:
                for p, v in zip(self.model.parameters(), sample, strict=True):
                    p.copy_(v)
                out.append(self.model(xt)[0])
        return torch.stack(out).mean(dim=0).double().numpy()


class _SGHMCState:
    """Per-parameter state of scale-adapted SGHMC (Springenberg et al. 2016, pybnn's
    ``AdaptiveSGHMC``): a running estimate of the gradient's second moment, adapted during
    burn-in, preconditions the momentum update and the injected noise."""

    def __init__(self, p: Any) -> None:
        import torch

        self.tau = torch.ones_like(p)
        self.g = torch.ones_like(p)
        self.v_hat = torch.ones_like(p)
        self.momentum = torch.zeros_like(p)

    def update(self, p: Any, lr: float, mdecay: float, burn_in: bool, generator: Any) -> None:
        import torch

        grad = p.grad
        if burn_in:
            r = 1.0 / (self.tau + 1.0)
            self.tau = self.tau + 1.0 - self.tau * (self.g * self.g / self.v_hat)
            self.g = self.g - self.g * r + r * grad
            self.v_hat = self.v_hat - self.v_hat * r + r * grad * grad
        minv = 1.0 / torch.sqrt(self.v_hat)
        scale = 2.0 * lr ** 2 * mdecay * minv - lr ** 4
        sigma = torch.sqrt(torch.clamp(scale, min=1e-16))
        noise = torch.randn(p.shape, generator=generator) * sigma
        self.momentum = self.momentum - lr ** 2 * minv * grad - mdecay * self.momentum + noise
        p.add_(self.momentum)


__all__ = ["BLRPredictor", "BOHAMIANNPredictor", "BONASPredictor", "BananasPredictor",
           "DNGOPredictor",
           "NGBoostPredictor",
           "StackedMLP", "train_stacked"]
