"""NAO and SemiNAS: an LSTM encoder-predictor-decoder on the architecture as a sequence.

White et al. (2021) ran both through NASLib's ``SemiNASPredictor``
(``naslib/predictors/seminas.py``; ``nao`` = ``semi=False``), after Luo et al. (NeurIPS
2018, "Neural Architecture Optimization") and Luo et al. (2020, "Semi-Supervised Neural
Architecture Search"). Our own code, with NASLib's settings:

* **Sequence** (NASLib's ``convert_arch_to_seq``): for each node ``j = 1..V-1`` of the
  ``gcn`` encoding, the ``j`` bits ``A[i, j] + 1`` of its incoming edges from nodes
  ``i < j``, then its operation's token ``3 + type`` (``3 + T`` for a node with no
  type); a node the mask leaves out is all ``0`` (padding). Length ``(V + 2)(V - 1) / 2``:
  27 on NB101, 35 on NB201 (as NASLib). Vocabulary ``T + 4``; token 0 also starts the
  decoder.
* **Encoder**: embedding (64), dropout 0.1, one bidirectional LSTM layer, a linear map
  back to 64 plus the embedding (residual), L2-normalised per position; the mean over
  positions, normalised, is the architecture's embedding; the predictor is a residual
  MLP (64 -> 16 -> 64, ReLU, dropout) scaled by sqrt(1/2) and a linear output.
* **Decoder**: one LSTM layer (64) started from the embedding, teacher-forced on the
  sequence shifted by the start token, with dot-product attention over the encoder's
  outputs (NASLib's residual + sqrt(1/2) scaling), log-softmax over the vocabulary.
* **Training**: ``trade_off * MSE(prediction, standardised target) + (1 - trade_off) *
  NLL(reconstruction)`` with trade-off 0.8, Adam (learning rate 0.001, weight decay
  1e-4), gradients clipped to norm 5, batch 100, ``pretrain_epochs`` 50.
* **SemiNAS** (``semi``): after pre-training, ``unlabeled_factor * n`` unlabelled
  architectures (drawn with the seed from those the caller passes: in the family study
  the non-test architectures not in the training set, in a search the unqueried pool)
  get the encoder's prediction as a pseudo-label; the network then trains ``epochs`` (50)
  more on the labelled data repeated ``up_sample_ratio`` (10) times plus the
  pseudo-labelled ones (NASLib: ``synthetic_factor`` 1, ``up_sample_ratio`` 10).

Networks train in float32 on one CPU thread under a seeded generator (initialisation,
dropout and batch order): a fit is a pure function of data, options and seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasrank.predictors.trees import TreePredictor

__all__ = ["NAOPredictor", "arch_sequences"]


def arch_sequences(x: np.ndarray, layout: Mapping[str, Sequence[int]]) -> np.ndarray:
    """NASLib's NAO/SemiNAS token sequences of ``gcn`` encodings ``x`` ``(n, V, W)``.

    Returns:
        ``(n, (V + 2)(V - 1) / 2)`` int64 tokens (see the module docstring).
    """
    x = np.asarray(x)
    (a0, a1), (o0, o1), (k0, _) = (layout[k] for k in ("adjacency", "ops", "mask"))
    adj = x[:, :, a0:a1] > 0.5
    ops = x[:, :, o0:o1]
    present = x[:, :, k0] > 0.5
    n, v = x.shape[:2]
    n_types = o1 - o0
    op_token = np.where(ops.max(axis=2) > 0.5, 3 + ops.argmax(axis=2), 3 + n_types)
    columns = []
    for j in range(1, v):
        block = np.concatenate([adj[:, :j, j].astype(np.int64) + 1, op_token[:, j:j + 1]],
                               axis=1)
        columns.append(np.where(present[:, j:j + 1], block, 0))
    return np.concatenate(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.int64)


def _network(vocab: int, hidden: int, mlp_hidden: int, dropout: float) -> Any:
    """The encoder-predictor-decoder as one ``nn.Module`` (built under the caller's seed)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_proj = nn.Linear(hidden, hidden, bias=False)
            self.output_proj = nn.Linear(2 * hidden, hidden, bias=False)

        def forward(self, x: Any, source: Any) -> Any:
            weights = torch.softmax(torch.bmm(self.input_proj(x), source.transpose(1, 2)), -1)
            mix = torch.bmm(weights, source)
            return torch.tanh(self.output_proj(torch.cat([mix, x], dim=2)))

    class NAO(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab, hidden)
            self.encoder = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
            self.out_proj = nn.Linear(2 * hidden, hidden)
            self.mlp = nn.ModuleList([nn.Linear(hidden, mlp_hidden),
                                      nn.Linear(mlp_hidden, hidden)])
            self.regressor = nn.Linear(hidden, 1)
            self.dec_embedding = nn.Embedding(vocab, hidden)
            self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
            self.attention = Attention()
            self.out = nn.Linear(hidden, vocab)

        def encode(self, seq: Any) -> tuple[Any, Any, Any]:
            x = F.dropout(self.embedding(seq), dropout, self.training)
            out, _ = self.encoder(x)
            outputs = F.normalize(x + self.out_proj(out), 2, dim=-1)
            emb = F.normalize(outputs.mean(dim=1), 2, dim=-1)
            h = emb
            for layer in self.mlp:
                h = F.dropout(F.relu(layer(h)), dropout, self.training)
            return outputs, emb, self.regressor((emb + h) * math.sqrt(0.5)).squeeze(-1)

        def forward(self, seq: Any) -> tuple[Any, Any]:
            outputs, emb, pred = self.encode(seq)
            start = torch.zeros_like(seq[:, :1])
            x = F.dropout(self.dec_embedding(torch.cat([start, seq[:, :-1]], dim=1)),
                          dropout, self.training)
            state = (emb[None].contiguous(), emb[None].contiguous())
            h, _ = self.decoder(x, state)
            x = (x + h) * math.sqrt(0.5)
            x = (x + self.attention(x, outputs)) * math.sqrt(0.5)
            return pred, F.log_softmax(self.out(x), dim=-1)

    return NAO()


class NAOPredictor(TreePredictor):
    """NAO's encoder-predictor (``semi=False``) or SemiNAS (``semi=True``)."""

    def __init__(self, input_shape: Sequence[int], layout: Mapping[str, Sequence[int]],
                 seed: int = 0, *, semi: bool = False, **options: Any) -> None:
        super().__init__(input_shape, seed=seed, **options)
        self.layout = {k: list(v) for k, v in layout.items()}
        self.semi = semi
        self.name = "seminas" if semi else "nao"
        self.vocab = (layout["ops"][1] - layout["ops"][0]) + 4
        self.mean = self.std = 0.0

    def _sequences(self, x: Any) -> Any:
        import torch

        graphs = self._matrix(x).reshape(-1, *self.input_shape)
        return torch.from_numpy(arch_sequences(graphs, self.layout))

    def _train(self, net: Any, seq: Any, target: Any, epochs: int, gen: Any) -> None:
        import torch
        from torch.nn import functional as F

        o = self.options
        adam = torch.optim.Adam(net.parameters(), lr=o["learning_rate"],
                                weight_decay=o["weight_decay"])
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(seq), generator=gen)
            for start in range(0, len(seq), o["batch_size"]):
                idx = order[start:start + o["batch_size"]]
                adam.zero_grad()
                pred, log_prob = net(seq[idx])
                nll = F.nll_loss(log_prob.reshape(-1, self.vocab), seq[idx].reshape(-1))
                loss = (o["trade_off"] * F.mse_loss(pred, target[idx])
                        + (1 - o["trade_off"]) * nll)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), o["grad_bound"])
                adam.step()

    def fit(self, x: Any, y: Any, unlabeled: Any = None) -> NAOPredictor:
        """Fit on ``gcn`` encodings ``x`` and targets ``y``; SemiNAS also pseudo-labels
        some of the ``unlabeled`` encodings.

        Raises:
            ValueError: SemiNAS without unlabeled architectures.
        """
        import torch

        from nasrank.train import one_thread

        if self.semi and (unlabeled is None or len(unlabeled) == 0):
            raise ValueError("seminas: fit() needs unlabeled architectures (SemiNAS "
                             "pseudo-labels them)")
        o = self.options
        seq = self._sequences(x)
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        self.mean = float(target.mean())
        self.std = float(target.std()) or 1.0
        yt = torch.from_numpy(((target - self.mean) / self.std).astype(np.float32))
        with one_thread("cpu"), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = _network(self.vocab, o["hidden"], o["mlp_hidden"], o["dropout"])
            gen = torch.Generator().manual_seed(self.seed)
            self._train(net, seq, yt, o["pretrain_epochs"], gen)
            if self.semi:
                pool = self._sequences(unlabeled)
                k = min(len(pool), o["unlabeled_factor"] * len(seq))
                pick = np.sort(np.random.default_rng(self.seed).choice(len(pool), k,
                                                                        replace=False))
                synthetic = pool[torch.from_numpy(pick)]
                net.eval()
                with torch.no_grad():
                    pseudo = net.encode(synthetic)[2]
                ratio = o["up_sample_ratio"]
                self._train(net, torch.cat([seq.repeat(ratio, 1), synthetic]),
                            torch.cat([yt.repeat(ratio), pseudo]), o["epochs"], gen)
        net.eval()
        self.model = net
        return self

    def predict(self, x: Any) -> np.ndarray:
        import torch

        from nasrank.train import one_thread

        if self.model is None:
            raise RuntimeError(f"{self.name}: predict() before fit()")
        with torch.no_grad(), one_thread("cpu"):
            pred = self.model.encode(self._sequences(x))[2].double().numpy()
        return pred * self.std + self.mean
