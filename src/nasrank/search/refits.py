"""Refitting a search's predictors: every seed's refit as one sweep, seeds in lock step.

``predictor_nas``, ``npenas_loop`` and ``bananas_loop`` refit their predictor (or an
ensemble of them) on every architecture queried so far. The seeds of
a job run side by side (:func:`lockstep`): each seed's search runs in a thread of its own,
and its ``fit_predict`` waits until every seed still searching has asked for a refit; the
main thread then fits all of them as one sweep (:class:`Refits`, through
:func:`nasrank.sweep.fit_predictors`, whose results are bit-identical whichever runs share
the call), predicts each seed's candidates and lets the searches go on.

Usage::

    refits = Refits(job, params, pool.arch_ids, x, layout)
    finals = lockstep(tasks, lambda batch: refits([Refit(seeds[i], *r) for i, r in batch]),
                      labels)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from nasrank.errors import NasrankError
from nasrank.search import FitPredict
from nasrank.search.jobs import SearchJob

__all__ = ["MEMBER_SEED_STRIDE", "Refit", "Refits", "Request", "fit_predict_from", "lockstep",
           "member_seed", "name_error", "run_config"]

#: member ``j`` of an ensemble refit of seed ``s`` trains with seed ``s + j * stride``
MEMBER_SEED_STRIDE = 1_000_000


def member_seed(seed: int, member: int) -> int:
    """The training seed of ensemble member ``member`` of a search seed: member 0 is the
    seed itself (a one-member refit is the plain refit), the others are far apart."""
    return seed + member * MEMBER_SEED_STRIDE


def run_config(job: SearchJob, params: dict[str, Any], train_size: int, seed: int) -> Any:
    from nasrank.train import config_from_params

    cfg = config_from_params(params, bench=job.bench, task=job.table.task,
                             encoding=job.encoding, predictor=job.predictor, loss=job.loss,
                             train_size=train_size, seed=seed)
    if job.loss_options:
        cfg = replace(cfg, loss_options={**cfg.loss_options, **job.loss_options})
    return cfg


@dataclass(frozen=True)
class Refit:
    """One ``fit_predict`` call of a seed's predictor search: the labelled architectures
    so far (ids and accuracies, in query order), the candidates to score and the number
    of ensemble members to fit."""

    seed: int
    train_ids: np.ndarray
    train_acc: np.ndarray
    candidate_ids: np.ndarray
    n_labelled: int
    members: int = 1


class Refits:
    """Refits of ``job``'s predictor: features of ``ids`` in ``x``, one sweep per call."""

    def __init__(self, job: SearchJob, params: dict[str, Any], ids: np.ndarray, x: np.ndarray,
                 layout: dict[str, list[int]]) -> None:
        from nasrank.predictors import predictor_spec

        self.job, self.params, self.x, self.layout = job, params, x, layout
        self.row = {k: i for i, k in enumerate(ids)}
        self.unlabeled = job.predictor is not None and predictor_spec(job.predictor).unlabeled

    def unqueried(self, train_ids: np.ndarray) -> np.ndarray | None:
        """Features of the pool's architectures outside ``train_ids`` (SemiNAS's
        unlabelled data; ``None`` for the other predictors)."""
        if not self.unlabeled:
            return None
        keep = np.ones(len(self.x), dtype=bool)
        keep[self.rows(train_ids)] = False
        return self.x[keep]

    def rows(self, ids: np.ndarray) -> list[int]:
        return [self.row[k] for k in ids]

    def __call__(self, refits: Sequence[Refit]) -> list[np.ndarray]:
        """Fit every refit's predictors (one :func:`nasrank.sweep.fit_predictors` call for
        all of them) and return each one's predictions of its candidates: ``(n,)``, or
        ``(members, n)`` for an ensemble (member ``j`` trained with
        :func:`member_seed`). SemiNAS's unlabelled architectures are the unqueried
        pool. The loss sees ``train_size`` = labelled samples, which a
        ``piecewise`` schedule with ``switch_samples`` switches on."""
        from nasrank.sweep import fit_predictors

        runs = []   # (refit, member, training features, unlabelled features)
        for r in refits:
            x, u = self.x[self.rows(r.train_ids)], self.unqueried(r.train_ids)
            runs += [(r, j, x, u) for j in range(r.members)]
        cfgs = [run_config(self.job, self.params, r.n_labelled, member_seed(r.seed, j))
                for r, j, _, _ in runs]
        fitted = iter(fit_predictors(cfgs, [x for _, _, x, _ in runs],
                                     [r.train_acc for r, _, _, _ in runs], self.layout,
                                     unlabeled=[u for _, _, _, u in runs]))
        out = []
        for r in refits:
            x = self.x[self.rows(r.candidate_ids)]
            preds = [next(fitted).predict(x) for _ in range(r.members)]
            out.append(preds[0] if r.members == 1 else np.stack(preds))
        return out


def fit_predict_from(job: SearchJob, params: dict[str, Any], ids: np.ndarray, x: np.ndarray,
                     layout: dict[str, list[int]], seed: int) -> Any:
    """``fit_predict`` of one seed's ``predictor_nas``: refit ``job``'s predictor on the
    labelled architectures so far (their features looked up in ``x``, aligned with
    ``ids``) and predict the candidates. The loss sees ``train_size`` = labelled samples,
    which a ``piecewise`` schedule with ``switch_samples`` switches on. (:func:`run_job`
    refits all seeds together, with the same results.)"""
    refits = Refits(job, params, ids, x, layout)

    def fit_predict(train_ids: np.ndarray, train_acc: np.ndarray, candidate_ids: np.ndarray,
                    *, n_labelled: int, members: int = 1) -> np.ndarray:
        return refits([Refit(seed, train_ids, train_acc, candidate_ids, n_labelled,
                             members)])[0]

    return fit_predict


T = TypeVar("T")

#: ``fit_predict``'s arguments as one request: (train_ids, train_acc, candidate_ids,
#: n_labelled, members)
Request = tuple[np.ndarray, np.ndarray, np.ndarray, int, int]


class _Aborted(BaseException):
    """Unwinds a task's thread when the lock step stops (a task or a refit failed).
    A BaseException, so that no ``except Exception`` in a search can swallow it."""


class _Lockstep:
    """The rendezvous of :func:`lockstep`; see there."""

    def __init__(self, n: int) -> None:
        self.cond = threading.Condition()
        self.running = n                          # tasks not finished yet
        self.pending: dict[int, Request] = {}     # task -> its refit, waiting
        self.answers: dict[int, np.ndarray] = {}  # task -> its scores, not yet taken
        self.results: dict[int, Any] = {}
        self.errors: dict[int, BaseException] = {}
        self.aborted = False

    def fit_predict(self, slot: int) -> FitPredict:
        def fit_predict(train_ids: np.ndarray, train_acc: np.ndarray,
                        candidate_ids: np.ndarray, *, n_labelled: int,
                        members: int = 1) -> np.ndarray:
            with self.cond:
                if self.aborted:
                    raise _Aborted
                self.pending[slot] = (train_ids, train_acc, candidate_ids, n_labelled,
                                      members)
                self.cond.notify_all()
                while slot not in self.answers and not self.aborted:
                    self.cond.wait()
                if self.aborted:
                    raise _Aborted
                return self.answers.pop(slot)

        return fit_predict

    def work(self, slot: int, task: Callable[[FitPredict], Any]) -> None:
        try:
            self.results[slot] = task(self.fit_predict(slot))
        except _Aborted:
            pass
        except BaseException as exc:  # re-raised by the main thread
            self.errors[slot] = exc
        finally:
            with self.cond:
                self.running -= 1
                self.cond.notify_all()

    def next_round(self) -> list[tuple[int, Request]] | None:
        """Wait until every running task waits for a refit; its requests, by task, or
        ``None`` when every task has finished or one failed."""
        with self.cond:
            while len(self.pending) < self.running:
                self.cond.wait()
            if self.errors or not self.running:
                return None
            batch = sorted(self.pending.items())
            self.pending.clear()
            return batch

    def answer(self, slots: list[int], scores: Sequence[np.ndarray]) -> None:
        with self.cond:
            self.answers.update(zip(slots, scores, strict=True))
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


def name_error(exc: BaseException, where: str) -> BaseException:
    """``exc`` with ``where`` in its message (nasrank's own errors, which the command line
    prints) or as a note (the others: their text is kept as it is)."""
    if (isinstance(exc, NasrankError) and len(exc.args) == 1 and isinstance(exc.args[0], str)
            and type(exc).__str__ is BaseException.__str__):
        exc.args = (f"{where}: {exc.args[0]}",)
    else:
        exc.add_note(where)
    return exc


def lockstep(tasks: Sequence[Callable[[FitPredict], T]],
             refit: Callable[[list[tuple[int, Request]]], Sequence[np.ndarray]],
             labels: Sequence[str]) -> list[T]:
    """Run ``tasks`` side by side, their ``fit_predict`` calls answered in rounds.

    Each task runs in a thread of its own with a ``fit_predict`` (the
    :class:`~nasrank.search.base.FitPredict` protocol) that hands its arguments to this
    rendezvous and waits. When every task still running waits, the calling (main) thread
    calls ``refit`` once with every waiting ``(task index, (train_ids, train_acc,
    candidate_ids, n_labelled, members))``, in task order, and hands each task the scores
    ``refit`` returned for it. A task that finishes early simply leaves the rounds.

    Errors: a task's exception ends the lock step at the next round (the other tasks are
    unwound, their threads joined) and is re-raised here with ``labels[i]`` in its
    message (or as a note): of the failed tasks, the first in task order. An exception
    of ``refit`` (or an interrupt of the main thread) unwinds every task the same way and
    propagates unchanged.

    Returns:
        Each task's result, in task order.
    """
    state = _Lockstep(len(tasks))
    threads = [threading.Thread(target=state.work, args=(i, task), daemon=True,
                                name=f"lockstep {labels[i]}")
               for i, task in enumerate(tasks)]
    for t in threads:
        t.start()
    try:
        while (batch := state.next_round()) is not None:
            scores = refit(batch)
            state.answer([slot for slot, _ in batch], scores)
    finally:
        state.abort()  # unwinds tasks still waiting (none when all finished)
        for t in threads:
            t.join()
    if state.errors:
        slot = min(state.errors)
        raise name_error(state.errors[slot], labels[slot])
    return [state.results[i] for i in range(len(tasks))]

