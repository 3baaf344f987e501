"""The catalogue of predictors: a predictor's builder registers itself with its metadata.

Adding a predictor is one decorated builder, in nasrank or in a plugin module::

    from nasrank.predictors.catalog import register_predictor

    @register_predictor("knn", kind="tree", label="kNN")
    def build_knn(input_shape, layout, *, seed=0, n_neighbors=5):
        "k-nearest-neighbour regression on the flattened encoding (the docstring's first
        paragraph is its description)."
        return KNNPredictor(input_shape, seed=seed, n_neighbors=n_neighbors)

The builder's keyword options and their defaults are the predictor's options (params.yaml's
``predictors.<name>`` changes some of them; :func:`nasrank.predictors.get_predictor`
refuses others); ``defaults=`` states them instead where the builder takes ``**options``.
Two kinds:

* ``torch``: the builder returns an ``nn.Module`` whose ``forward(x)``, ``x`` ``(B,
  *input_shape)``, returns ``(pred (B,), features (B, D))``; it is trained with a loss of
  :mod:`nasrank.losses`. The catalogue adds the option ``seed`` (default None: the global
  torch RNG) and builds the module under ``torch.manual_seed(seed)``, leaving the global
  RNG alone. Sweeps train nasrank's own networks in a hand-written stacked form
  (:mod:`nasrank.predictors.stacked`); any other module runs run by run through its own
  ``forward`` (``torch.func.functional_call``), without dropout layers (a run's dropout
  stream would depend on the others of its sweep).
* ``tree`` (any fit/predict regressor): the builder returns an object with ``fit(X, y) ->
  self`` and ``predict(X) -> (n,)``, fitted on the min-max scaled target (no loss); it
  must take ``seed`` itself.

Registration puts a :class:`PredictorSpec` in :data:`PREDICTORS`; the schema, the family
grid (every registered predictor is a model-based family predictor,
:data:`nasrank.families.FAMILY_PREDICTORS`) and the report read it from there.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from nasrank.errors import NasrankError, UnknownNameError
from nasrank.options import integer, is_default, subject

__all__ = [
    "ANY_ENCODING",
    "KINDS",
    "PREDICTORS",
    "PredictorRegistrationError",
    "PredictorSpec",
    "predictor_spec",
    "register_predictor",
    "unregister_predictor",
]

B = TypeVar("B", bound=Callable[..., Any])

#: ``torch``: an nn.Module trained with a loss; ``tree``: a fit/predict regressor
KINDS = ("torch", "tree")
#: what ``fits`` says of a predictor that takes any encoding
ANY_ENCODING = "any encoding (tensors are flattened)"
#: what a predictor's name may look like (it names files, stages and table rows)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PredictorRegistrationError(NasrankError, ValueError):
    """A predictor cannot be registered (a taken or malformed name, a bad kind, an option
    without a default)."""


def _no_check(shape: tuple[int, ...], layout: Mapping[str, Sequence[int]] | None) -> str | None:
    return None


@dataclass(frozen=True)
class PredictorSpec:
    """One registered predictor.

    Attributes:
        name: registry name (params.yaml, paths, reports).
        kind: ``torch`` (an ``nn.Module`` trained with a loss) or ``tree`` (fit/predict).
        uses_loss: whether the trainer's loss applies (``True`` for ``torch``).
        description: one line for reports.
        defaults: every option and its default (``seed`` included).
        fits: which encodings it takes, in words, for error messages.
        build: ``(input_shape, layout, **options) -> predictor``.
        check: ``(input_shape, layout) -> None`` or the reason it cannot take them.
        standardize: whether the trainer standardises its inputs with training-split
            statistics (not for the GCN, whose input is a graph: adjacency, one-hot, mask).
        encoding: its encoding in the family grid unless ``options`` say otherwise.
        label: its printed name.
        module: the module that registered it (a plugin's, for code dependencies).
        unlabeled: a ``tree`` predictor whose ``fit(X, y, unlabeled=U)`` also reads
            unlabelled architectures (SemiNAS); the callers that have them pass them.
    """

    name: str
    kind: str
    uses_loss: bool
    description: str
    defaults: dict[str, Any]
    fits: str
    build: Callable[..., Any]
    check: Callable[[tuple[int, ...], Mapping[str, Sequence[int]] | None], str | None] = _no_check
    standardize: bool = True
    encoding: str = "adjacency_onehot"
    label: str = ""
    module: str = ""
    unlabeled: bool = False

    def loss_for(self, loss: str) -> str:
        """The loss this predictor trains with when a grid asks for ``loss``: ``loss``
        for a torch network, ``regression`` (no loss: a tree fits the target) else."""
        from nasrank.config import NO_LOSS

        return loss if self.uses_loss else NO_LOSS


#: name -> :class:`PredictorSpec`, in the order of registration
PREDICTORS: dict[str, PredictorSpec] = {}


def _first_paragraph(obj: Any) -> str:
    doc = inspect.cleandoc(getattr(obj, "__doc__", None) or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


def _signature_defaults(build: Callable[..., Any]) -> dict[str, Any]:
    """The keyword options of ``build`` after ``(input_shape, layout)`` and their defaults
    (an option without one maps to ``inspect.Parameter.empty``)."""
    params = list(inspect.signature(build).parameters.values())
    return {p.name: p.default for p in params[2:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _seeded(build: Callable[[], Any], seed: int | None, what: str = "predictor") -> Any:
    """``build()`` under ``torch.manual_seed(seed)`` without touching the global RNG."""
    import torch

    if seed is None:
        return build()
    integer(what, "seed", seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def _seeding(name: str, build: Callable[..., Any]) -> Callable[..., Any]:
    """A torch builder with the option ``seed``: ``build`` under its seed."""

    def seeded_build(shape: tuple[int, ...], layout: Any, *, seed: int | None = None,
                     **options: Any) -> Any:
        return _seeded(lambda: build(shape, layout, **options), seed,
                       subject("predictor", name))

    seeded_build.__wrapped__ = build  # type: ignore[attr-defined]
    return seeded_build


def register_predictor(
    name: str, *, kind: str, fits: str = ANY_ENCODING, encoding: str = "adjacency_onehot",
    check: Callable[..., str | None] | None = None, standardize: bool = True,
    defaults: Mapping[str, Any] | None = None, description: str | None = None,
    label: str | None = None, unlabeled: bool = False,
) -> Callable[[B], B]:
    """Decorator: register ``build(input_shape, layout, **options)`` as predictor ``name``.

    Args:
        name: lower case, digits and ``_``.
        kind: ``torch`` or ``tree`` (see the module docstring).
        fits: which encodings it takes, in words (default: any, flattened).
        encoding: its default encoding in the family grid.
        check: ``(input_shape, layout) -> reason or None``: refuses encodings it cannot
            take (default: takes any).
        standardize: standardise its inputs with training-split statistics.
        defaults: its options and their defaults (default: ``build``'s keyword options).
        description: one line for reports (default: the first paragraph of ``build``'s
            docstring).
        label: its printed name (default: ``name``).
        unlabeled: ``fit`` also takes ``unlabeled=`` encodings (``tree`` only).

    Returns:
        The decorator; it returns ``build`` unchanged.

    Raises:
        PredictorRegistrationError: a taken or malformed name, an unknown kind, an option
            without a default (naming the builder), a ``tree`` builder without ``seed``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise PredictorRegistrationError(
            f"predictor name must match {_NAME.pattern} (lower case, digits, '_'), got {name!r}")
    if kind not in KINDS:
        raise PredictorRegistrationError(
            f"predictor {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if unlabeled and kind != "tree":
        raise PredictorRegistrationError(
            f"predictor {name!r}: only a tree predictor takes unlabeled architectures")

    def decorate(build: B) -> B:
        where = f"{getattr(build, '__module__', '?')}.{getattr(build, '__qualname__', build)}"
        if not callable(build):
            raise TypeError(f"register_predictor({name!r}) decorates a builder, got {build!r}")
        if name in PREDICTORS:
            old = PREDICTORS[name]
            raise PredictorRegistrationError(
                f"predictor {name!r} is registered twice: by {old.module} and by {where}")
        opts = dict(_signature_defaults(build) if defaults is None else defaults)
        for key, value in opts.items():
            if not is_default(value):
                raise PredictorRegistrationError(
                    f"predictor {name!r} ({where}): option {key!r} has no default (got "
                    f"{value!r}); give every option a value params.yaml can hold")
        if kind == "torch":
            opts = {"seed": None, **{k: v for k, v in opts.items() if k != "seed"}}
            built = _seeding(name, build)
        else:
            if "seed" not in opts:
                raise PredictorRegistrationError(
                    f"predictor {name!r} ({where}): a tree builder takes the option 'seed' "
                    "(its fits must be a pure function of data, options and seed)")
            built = build
        PREDICTORS[name] = PredictorSpec(
            name=name, kind=kind, uses_loss=kind == "torch",
            description=_first_paragraph(build) if description is None else description,
            defaults=opts, fits=fits, build=built, check=check or _no_check,
            standardize=standardize, encoding=encoding,
            label=name if label is None else label,
            module=getattr(build, "__module__", "") or "", unlabeled=unlabeled)
        return build

    return decorate


def unregister_predictor(name: str) -> PredictorSpec:
    """Remove predictor ``name`` (tests, interactive work) and return its spec.

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    spec = predictor_spec(name)
    del PREDICTORS[name]
    return spec


def predictor_spec(name: str) -> PredictorSpec:
    """The registered spec of ``name``.

    Raises:
        UnknownNameError: listing the registered predictors.
    """
    try:
        return PREDICTORS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("predictor", str(name), list(PREDICTORS)) from None
