"""Many networks of one architecture trained as one: parameters stacked along a run axis.

A sweep (:mod:`nasrank.sweep`) trains R independent predictors of the same architecture
at once. :class:`StackedNetwork` holds their parameters as tensors with a leading run
dimension ``(R, ...)`` and computes all R forward passes with batched matrix products
(``torch.bmm`` / ``baddbmm`` over the run axis), so every step is a few large kernels
instead of R small ones.

Usage::

    nets = [get_predictor("gcn", enc.shape, enc.layout, seed=s) for s in (0, 1, 2)]
    stack = StackedNetwork(nets, device="cpu")
    pred, feats = stack(x, train=True, dropout=masks)   # x (3, B, *shape) -> (3, B), (3, B, D)
    states = stack.state_dicts()                         # one loadable state dict per run

Why hand-written batched layers (and not ``vmap`` over ``functional_call``): each run
needs its *own* dropout stream and its own BatchNorm statistics, and a run's numbers must
not depend on which other runs share its sweep. The layers below use only operations
whose per-element result does not depend on the position of the element in a larger
tensor: matrix products per run, additions, multiplications, divisions, square roots,
ReLU and reductions over one run's own axes. Transcendental functions, whose vectorised
and scalar (tail) code paths may round differently, are avoided.

The computation equals the modules' own ``forward`` (same formulas as
:mod:`nasrank.predictors.networks`); only the LeNet's convolutions are written as an
im2col product (``unfold`` and one matrix product per run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nasrank.errors import ConfigError
from nasrank.exact import sqrt
from nasrank.predictors.networks import GCN, MLP, LeNet

__all__ = ["BN_EPS", "BN_MOMENTUM", "StackedNetwork", "dropout_sites"]

BN_EPS = 1e-5  # nn.BatchNorm2d's defaults, kept by the LeNet
BN_MOMENTUM = 0.1


def _linear(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``h @ weight.T + bias`` per run: h ``(R, N, in)``, weight ``(R, out, in)``.

    A single output is a multiply and a sum over ``in``: a batched product with one
    column takes another kernel path depending on R, and its result changed with it.
    """
    if weight.shape[1] == 1:
        out = (h * weight).sum(-1, keepdim=True)
        return out if bias is None else out + bias.unsqueeze(1)
    if bias is None:
        return torch.bmm(h, weight.transpose(1, 2))
    return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))


def _dropout(h: Tensor, mask: Tensor | None) -> Tensor:
    """``h`` times a 0 / ``1/(1-p)`` mask of the same shape, or ``h`` if no mask."""
    return h if mask is None else h * mask


def dropout_sites(module: nn.Module, batch: int) -> list[tuple[tuple[int, ...], float]]:
    """Shapes (per run) and rates of the dropout layers that act in one training step.

    The sweep draws each run's masks from the run's own generator in this order, so a
    run's dropout stream depends on its seed only.
    """
    if isinstance(module, GCN):
        p = float(module.dropout.p)
        if p == 0:
            return []
        v = module.input_shape[0]
        sites = [((batch, v, module.feature_dim), p) for _ in module.convs]
        if isinstance(module.head, nn.Sequential):
            sites.append(((batch, module.head[0].out_features), p))
        return sites
    if isinstance(module, MLP):
        return [((batch, layer_width), float(m.p))
                for layer_width, m in _mlp_dropouts(module) if m.p > 0]
    return []


def _mlp_dropouts(module: MLP) -> list[tuple[int, nn.Dropout]]:
    out, width = [], 0
    for layer in module.body:
        if isinstance(layer, nn.Linear):
            width = layer.out_features
        elif isinstance(layer, nn.Dropout):
            out.append((width, layer))
    return out


def _check_generic(module: nn.Module) -> None:
    """A network without a stacked form trains run by run through its own ``forward``:
    refuse what would make a run depend on the others of its sweep (dropout drawn from the
    global RNG, in the order the runs happen to be computed)."""
    drops = [name for name, m in module.named_modules()
             if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]
    if drops:
        raise ConfigError(
            f"{type(module).__name__}: dropout layers ({', '.join(drops)}) in a network "
            "without a stacked form: sweeps give each run its own dropout stream only in "
            "nasrank's own networks (nasrank.predictors.stacked); set their rate to 0")


class StackedNetwork:
    """R networks of identical architecture with their parameters stacked per run.

    Args:
        modules: the R networks (``LeNet``, ``MLP`` or ``GCN``, or any registered torch
            predictor without dropout, run by run), built as usual (each with its own
            seed); their parameters are copied, the modules are not changed.
        device: where the stacked tensors live.

    Raises:
        ConfigError: networks of different types or shapes.
    """

    def __init__(self, modules: Sequence[nn.Module], device: str | torch.device,
                 looped: bool | None = None) -> None:
        if not modules:
            raise ConfigError("a stacked network needs at least one network")
        first = modules[0]
        own_form = isinstance(first, (LeNet, MLP, GCN))
        if not own_form:
            _check_generic(first)
        shapes = {n: tuple(p.shape) for n, p in first.state_dict().items()}
        for m in modules[1:]:
            other = {n: tuple(p.shape) for n, p in m.state_dict().items()}
            if type(m) is not type(first) or other != shapes:
                raise ConfigError("a stacked network needs networks of one architecture, got "
                                  f"{type(first).__name__} and {type(m).__name__} of other "
                                  "shapes")
        self.template = first
        self.runs = len(modules)
        # The LeNet's step on the CPU is large (a batch of 1,024 tensors): its
        # convolutions through the module's own oneDNN kernels, run after run, beat one
        # im2col product over all runs by about 2x; on a GPU the stacked form wins.
        # A registered network of a plugin has no stacked form: run by run.
        self.looped = (not own_form or (isinstance(first, LeNet)
                                        and torch.device(device).type == "cpu")
                       if looped is None else looped or not own_form)
        named = [dict(m.named_parameters()) for m in modules]
        self.params: dict[str, Tensor] = {
            n: torch.stack([d[n].detach() for d in named]).to(device).requires_grad_(True)
            for n in named[0]
        }
        bufs = [dict(m.named_buffers()) for m in modules]
        self.buffers: dict[str, Tensor] = {
            n: torch.stack([d[n].detach() for d in bufs]).to(device) for n in bufs[0]
        }

    # ------------------------------------------------------------------ state

    def state_dicts(self, runs: Sequence[int] | None = None) -> list[dict[str, Tensor]]:
        """One state dict per run (CPU tensors, the modules' key order), loadable alone."""
        keys = list(self.template.state_dict())
        merged = {**self.params, **self.buffers}
        picks = range(self.runs) if runs is None else runs
        return [{k: merged[k][r].detach().cpu().clone() for k in keys} for r in picks]

    def snapshot(self) -> dict[str, Tensor]:
        """A copy of every stacked parameter and buffer (for best-epoch selection)."""
        return {k: v.detach().clone() for k, v in {**self.params, **self.buffers}.items()}

    def restore(self, snap: dict[str, Tensor], runs: Tensor) -> None:
        """Overwrite the runs selected by the boolean ``runs`` (R,) with ``snap``'s."""
        with torch.no_grad():
            for k, v in {**self.params, **self.buffers}.items():
                sel = runs.reshape(-1, *([1] * (v.ndim - 1)))
                v.copy_(torch.where(sel, snap[k], v))

    # ------------------------------------------------------------------ forward

    def __call__(self, x: Tensor, train: bool = True,
                 dropout: Sequence[Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Predictions ``(R, B)`` and penultimate features ``(R, B, D)`` of ``x`` ``(R, B,
        *input_shape)``: every run on its own batch.

        ``train``: BatchNorm uses (and updates) batch statistics, and ``dropout`` holds
        one mask per site of :func:`dropout_sites` (each ``(R, *site_shape)``, values 0 or
        ``1/(1-p)``); otherwise running statistics and no dropout.
        """
        masks = list(dropout) if (train and dropout) else []
        if self.looped and not masks:
            return self._looped(x, train)
        if isinstance(self.template, GCN):
            return self._gcn(x, masks)
        if isinstance(self.template, MLP):
            return self._mlp(x, masks)
        return self._lenet(x, train)

    def _looped(self, x: Tensor, train: bool) -> tuple[Tensor, Tensor]:
        """Each run through the module's own ``forward`` with its slice of the stacked
        parameters and buffers (BatchNorm updates the run's running statistics in place)."""
        from torch.func import functional_call

        params = {k: v.unbind(0) for k, v in self.params.items()}
        buffers = {k: v.unbind(0) for k, v in self.buffers.items()}
        self.template.train(train)
        preds, feats = [], []
        for r in range(self.runs):
            state = {**{k: v[r] for k, v in params.items()},
                     **{k: v[r] for k, v in buffers.items()}}
            p, f = functional_call(self.template, state, (x[r],))
            preds.append(p)
            feats.append(f)
        return torch.stack(preds), torch.stack(feats)

    def _mlp(self, x: Tensor, masks: list[Tensor]) -> tuple[Tensor, Tensor]:
        p = self.params
        r, b = x.shape[:2]
        h = x.reshape(r, b, -1)
        sites = iter(masks)
        for i, layer in enumerate(self.template.body):
            if isinstance(layer, nn.Linear):
                h = torch.relu(_linear(h, p[f"body.{i}.weight"], p[f"body.{i}.bias"]))
            elif isinstance(layer, nn.Dropout) and layer.p > 0 and masks:
                h = _dropout(h, next(sites))
        out = _linear(h, p["out.weight"], p["out.bias"]).squeeze(-1)
        return out, h

    def _gcn(self, x: Tensor, masks: list[Tensor]) -> tuple[Tensor, Tensor]:
        from nasrank.predictors.networks import propagation_matrices

        net: GCN = self.template  # type: ignore[assignment]
        p = self.params
        r, b, v = x.shape[:3]
        flat = x.reshape(r * b, v, x.shape[-1])
        mask = (flat[..., net.mask] > 0.5).to(x.dtype)
        p_forward, p_backward = propagation_matrices(flat[..., net.adjacency], mask,
                                                     net.normalization)
        h = (flat[..., net.ops] * mask[..., None]).reshape(r, b * v, -1)
        sites = iter(masks)
        for i in range(len(net.convs)):
            wf = _linear(h, p[f"convs.{i}.forward_weight.weight"], None)
            wb = _linear(h, p[f"convs.{i}.backward_weight.weight"], None)
            out_f = torch.relu(torch.bmm(p_forward, wf.reshape(r * b, v, -1)))
            out_b = torch.relu(torch.bmm(p_backward, wb.reshape(r * b, v, -1)))
            h = ((out_f + out_b) / 2).reshape(r, b * v, -1)
            if masks:
                h = _dropout(h, next(sites).reshape(r, b * v, -1))
        h = h.reshape(r * b, v, -1)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        pooled = pooled.reshape(r, b, -1)
        if isinstance(net.head, nn.Sequential):
            z = _linear(pooled, p["head.0.weight"], None)
            if masks:
                z = _dropout(z, next(sites))
            out = _linear(z, p["head.2.weight"], None)
        else:
            out = _linear(pooled, p["head.weight"], p["head.bias"])
        return out.squeeze(-1), pooled

    def _lenet(self, x: Tensor, train: bool) -> tuple[Tensor, Tensor]:
        net: LeNet = self.template  # type: ignore[assignment]
        p = self.params
        r, b, _, height, width = x.shape
        h = x.reshape(r * b, *x.shape[2:])  # (RB, C, H, W)
        for i, layer in enumerate(net.features):
            if not isinstance(layer, nn.Conv2d):
                continue
            cols = nn.functional.unfold(h, 3, padding=1)  # (RB, C*9, HW), (c, dy, dx)
            cols = cols.transpose(1, 2).reshape(r, b * height * width, -1)
            w = p[f"features.{i}.weight"]
            out = _linear(cols, w.reshape(r, w.shape[1], -1), None)  # (R, BHW, O)
            out = torch.relu(self._batch_norm(out, f"features.{i + 1}", train))
            h = out.reshape(r * b, height * width, -1).transpose(1, 2).reshape(
                r * b, -1, height, width)
        h = h.reshape(r, b, -1)
        for i, layer in enumerate(net.fc):
            if isinstance(layer, nn.Linear):
                h = torch.relu(_linear(h, p[f"fc.{i}.weight"], p[f"fc.{i}.bias"]))
        out = _linear(h, p["out.weight"], p["out.bias"]).squeeze(-1)
        return out, h

    def _batch_norm(self, h: Tensor, name: str, train: bool) -> Tensor:
        """BatchNorm over each run's own (batch, height, width) axis, ``h`` ``(R, N, C)``.

        Training: normalise with the batch's biased variance and update the running mean
        and (unbiased) variance with momentum 0.1, as ``nn.BatchNorm2d`` does.
        """
        gamma, beta = self.params[f"{name}.weight"], self.params[f"{name}.bias"]
        running_mean = self.buffers[f"{name}.running_mean"]
        running_var = self.buffers[f"{name}.running_var"]
        if train:
            n = h.shape[1]
            mean = h.sum(1) / n
            centred = h - mean[:, None, :]
            var = (centred * centred).sum(1) / n
            with torch.no_grad():
                running_mean.mul_(1 - BN_MOMENTUM).add_(mean.detach() * BN_MOMENTUM)
                unbiased = var.detach() * (n / max(n - 1, 1))
                running_var.mul_(1 - BN_MOMENTUM).add_(unbiased * BN_MOMENTUM)
                self.buffers[f"{name}.num_batches_tracked"].add_(1)
        else:
            centred = h - running_mean[:, None, :]
            var = running_var
        scale = gamma / sqrt(var + BN_EPS)
        return centred * scale[:, None, :] + beta[:, None, :]


def stacked_bytes_per_run(module: nn.Module) -> int:
    """Bytes of one run's parameters, gradients and Adam moments (4 copies)."""
    return 4 * sum(p.numel() * p.element_size() for p in module.parameters())


def describe(module: Any) -> str:
    """Short name of a network for messages."""
    return type(module).__name__
