"""Tests of the loss catalogue (nasrank.losses.catalog): each loss registers its family,
label and colour with a decorator, and the report's per-loss tables are views of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import torch

from nasrank.config import schema
from nasrank.errors import UnknownNameError
from nasrank.losses import ENTRIES, LOSSES, Loss, get_loss, loss_entry, loss_options
from nasrank.losses.catalog import (
    DERIVED_PALETTE,
    LossRegistrationError,
    derived_colour,
    register_loss,
    unregister_loss,
)
from nasrank.losses.ranking import HingeRankingLoss
from nasrank.losses.registry import LOSS_MODULES
from nasrank.report import figures, stats
from nasrank.report.figures import LOSS_COLOURS, LOSS_LABELS
from nasrank.report.stats import LOSS_FAMILIES, loss_family

# the values of the literal tables in figures.py and stats.py before the registry: a
# drift changes every figure and table of the report
NAMES = ["mse", "l1", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp", "renas", "piecewise"]
COLOURS = {
    "mse": "tab:blue", "hr": "tab:orange", "lr": "tab:green", "mse_sr": "tab:red",
    "listmle": "tab:purple", "ew": "tab:brown", "mape": "tab:pink", "warp": "tab:olive",
    "piecewise": "tab:cyan", "l1": "navy", "renas": "goldenrod",
    "random": "tab:gray", "regularized_evolution": "black",
}
LABELS = {
    "mse": "MSE", "hr": "HR", "lr": "LR", "mse_sr": "MSE+SR", "listmle": "ListMLE",
    "ew": "EW", "mape": "MAPE", "warp": "WARP", "piecewise": "PW", "l1": "L1",
    "renas": "ReNAS", "random": "random search", "regularized_evolution": "reg. evolution",
}
FAMILIES = {
    "mse": "regression", "l1": "regression", "hr": "ranking", "lr": "ranking",
    "mse_sr": "ranking", "listmle": "ranking", "renas": "ranking", "ew": "weighted",
    "mape": "weighted", "warp": "weighted", "piecewise": "piecewise",
}
BASELINES = ("random", "regularized_evolution")


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names to unregister after the test (the catalogue is process-wide)."""
    names: list[str] = []
    yield names
    for name in names:
        if name in ENTRIES:
            unregister_loss(name)


def test_registry_keeps_the_values_of_the_literal_tables() -> None:
    assert list(LOSSES) == list(ENTRIES) == NAMES
    assert {n: e.colour for n, e in ENTRIES.items()} == {n: COLOURS[n] for n in NAMES}
    assert {n: e.label for n, e in ENTRIES.items()} == {n: LABELS[n] for n in NAMES}
    assert {n: e.family for n, e in ENTRIES.items()} == FAMILIES
    assert dict(LOSS_COLOURS) == COLOURS
    assert dict(LOSS_LABELS) == LABELS
    assert dict(LOSS_FAMILIES) == FAMILIES
    assert list(LOSS_COLOURS) == [*NAMES, *BASELINES] == list(LOSS_LABELS)
    assert {n: loss_family(n) for n in NAMES} == FAMILIES
    assert figures._colour("warp") == "tab:olive" and figures._label("mse_sr") == "MSE+SR"
    with pytest.raises(UnknownNameError, match="nope"):
        figures._colour("nope")


def test_entries_carry_class_doc_and_default_options() -> None:
    for name, entry in ENTRIES.items():
        assert entry.name == name and entry.cls is LOSSES[name] and entry.cls.name == name
        assert dict(entry.options) == loss_options(name)
        assert entry.doc and "\n" not in entry.doc
    hr = loss_entry("hr")
    assert hr.cls is HingeRankingLoss and hr.doc == 'Pairwise hinge ranking loss ("HR").'
    with pytest.raises(TypeError):
        hr.options["margin"] = 1.0  # type: ignore[index]
    with pytest.raises(UnknownNameError, match=r"available: .*warp"):
        loss_entry("hinge")


def test_loss_modules_are_every_module_with_a_loss() -> None:
    assert {e.cls.__module__ for e in ENTRIES.values()} == set(LOSS_MODULES)


def test_builtin_losses_are_what_the_loss_modules_register() -> None:
    """config.BUILTIN_LOSSES lets params without plugins be checked without torch."""
    from nasrank.config import BUILTIN_LOSSES

    builtin = [n for n, cls in LOSSES.items() if cls.__module__ in LOSS_MODULES]
    assert list(BUILTIN_LOSSES) == builtin


def test_schema_loss_names_are_a_pattern_the_registry_matches() -> None:
    """Plugins register losses the static schema cannot list: it checks the spelling of a
    loss name (that of register_loss), check_params that it is registered (``regression``
    stands for the predictors trained without a loss)."""
    import re

    sch = schema()
    loss = sch["$defs"]["loss"]
    assert "enum" not in loss
    assert all(re.match(loss["pattern"], n) for n in [*LOSSES, "regression"])
    assert list(sch["properties"]["losses"]["properties"]) == ["regression"]
    assert sch["properties"]["losses"]["additionalProperties"] == {
        "$ref": "#/$defs/loss_options"}


def test_duplicate_name_names_both_classes(registered: list[str]) -> None:
    with pytest.raises(LossRegistrationError,
                       match=r"'hr' is registered twice: by nasrank\.losses\.ranking\."
                             r"HingeRankingLoss and by .*test_loss_registry\..*Dup"):
        @register_loss("hr", family="ranking")
        class Dup(Loss):
            pass
    assert LOSSES["hr"] is HingeRankingLoss and ENTRIES["hr"].cls is HingeRankingLoss


def test_invalid_registrations() -> None:
    with pytest.raises(LossRegistrationError, match="name must match"):
        register_loss("My Loss", family="ranking")
    with pytest.raises(LossRegistrationError, match="family must match"):
        register_loss("mine", family="")
    with pytest.raises(LossRegistrationError, match="colour must be a non-empty string"):
        register_loss("mine", family="ranking", colour="")
    with pytest.raises(TypeError, match="Loss subclass"):
        register_loss("mine", family="ranking")(dict)  # type: ignore[type-var]
    with pytest.raises(LossRegistrationError, match="has name 'other'"):
        @register_loss("mine", family="ranking")
        class Named(Loss):
            name: ClassVar[str] = "other"
    assert "mine" not in LOSSES and "mine" not in ENTRIES


def test_derived_colour_is_deterministic_and_valid(registered: list[str]) -> None:
    from matplotlib.colors import is_color_like

    @register_loss("test_plain", family="ranking")
    class Plain(Loss):
        """A loss without a colour of its own."""

    registered.append("test_plain")
    colour = loss_entry("test_plain").colour
    assert colour == derived_colour("test_plain") == derived_colour("test_plain")
    assert colour in DERIVED_PALETTE and is_color_like(colour)
    assert loss_entry("test_plain").label == "test_plain"  # label defaults to the name
    assert all(is_color_like(c) for c in DERIVED_PALETTE)
    assert len(set(DERIVED_PALETTE)) == len(DERIVED_PALETTE)
    # a fixed function of the name (SHA-256, not Python's hash salted per process)
    assert [derived_colour(n) for n in ("a", "my_loss", "zz")] == [
        "#999933", "#332288", "#DDCC77"]
    assert {derived_colour(f"loss_{i}") for i in range(200)} == set(DERIVED_PALETTE)


def test_a_new_loss_is_one_decorated_class(registered: list[str]) -> None:
    """Registering a class is all it takes: it is in LOSSES, built by get_loss, and the
    report's colours, labels and families know it (no edit under nasrank/report)."""

    @register_loss("test_abs3", family="regression", label="|e|^3", colour="#123456")
    class Abs3Loss(Loss):
        """Mean cubed absolute error.

        Only for this test."""

        OPTIONS: ClassVar[dict[str, Any]] = {"scale": 1.0}

        def compute(self, pred, target, features, ctx):  # type: ignore[override]
            return self.options["scale"] * (pred - target).abs().pow(3).mean()

    registered.append("test_abs3")
    assert Abs3Loss.name == "test_abs3" and list(LOSSES)[-1] == "test_abs3"
    loss = get_loss("test_abs3", scale=2.0)
    assert isinstance(loss, Abs3Loss)
    assert loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])).item() == 1.0
    assert loss_options("test_abs3") == {"scale": 1.0}
    entry = loss_entry("test_abs3")
    assert entry.doc == "Mean cubed absolute error." and dict(entry.options) == {"scale": 1.0}
    assert LOSS_COLOURS["test_abs3"] == figures._colour("test_abs3") == "#123456"
    assert LOSS_LABELS["test_abs3"] == figures._label("test_abs3") == "|e|^3"
    assert LOSS_FAMILIES["test_abs3"] == stats.loss_family("test_abs3") == "regression"
    assert list(LOSS_COLOURS)[-3:] == ["test_abs3", *BASELINES]

    unregister_loss("test_abs3")
    assert "test_abs3" not in LOSSES and "test_abs3" not in LOSS_COLOURS
    assert "test_abs3" not in LOSS_LABELS and "test_abs3" not in LOSS_FAMILIES
    with pytest.raises(UnknownNameError):
        get_loss("test_abs3")
    assert dict(LOSS_COLOURS) == COLOURS
