"""Reading a rulebook or a facility registry file: configuration a shell loads once at
start.

This is the only module under ``streams/core`` that touches the file system; the step
path never calls it (the purity check allows exactly this module to read files).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from streams.core.facilities import Registry
from streams.core.registry import RegistryError, parse_registry
from streams.core.registry_csv import parse_registry_csv
from streams.core.rulebook import Problem, Rulebook, RulebookError, parse_rulebook

DEFAULT_RULEBOOK = "rulebooks/default.yaml"


def load_rulebook(path: str | Path) -> Rulebook:
    """Read and validate the rulebook at ``path``, and the facility registry it names
    (``resources.registry``, relative to the rulebook's file) into its
    ``resources.facilities``; :class:`RulebookError` says what is wrong."""
    book = parse_rulebook(_read(path, RulebookError), str(path))
    named = book.resources.registry
    if named is None or book.resources.facilities is not None:
        return book
    return with_registry(book, load_registry(Path(path).parent / named))


def load_rules(rulebook: str | Path | None, registry: str | Path | None = None) -> Rulebook:
    """The rulebook at ``rulebook`` (None: the default), with the facility registry at
    ``registry`` in place of the one it names or holds (None: as it is): what a worker
    (``TIERFLOW_RULEBOOK_PATH``, ``TIERFLOW_REGISTRY_PATH``) and a replay (``--rules``,
    ``--registry``) decide with."""
    book = load_rulebook(rulebook) if rulebook is not None else default_rulebook()
    return book if registry is None else with_registry(book, load_registry(registry))


def with_registry(book: Rulebook, registry: Registry) -> Rulebook:
    """``book`` with ``registry`` as its facility registry."""
    resources = book.resources.model_copy(update={"facilities": registry})
    return book.model_copy(update={"resources": resources})


def load_registry(path: str | Path) -> Registry:
    """Read and validate the facility registry at ``path``, YAML or (``.csv``) CSV;
    :class:`RegistryError` says what is wrong."""
    text = _read(path, RegistryError)
    if Path(path).suffix.lower() == ".csv":
        return parse_registry_csv(text, str(path))
    return parse_registry(text, str(path))


def _read(path: str | Path, error: type[RulebookError]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), [Problem("", f"cannot read: {exc}")]) from exc


def shipped_registry(name: str) -> Path:
    """The path of a facility registry shipped with tierflow (``streams/registries/``)."""
    return Path(str(resources.files("streams").joinpath("registries", name)))


def default_rulebook() -> Rulebook:
    """The national default rulebook shipped with tierflow (``streams/rulebooks/default.yaml``)."""
    text = resources.files("streams").joinpath(DEFAULT_RULEBOOK).read_text(encoding="utf-8")
    return parse_rulebook(text, DEFAULT_RULEBOOK)


def auto_declared(book: Rulebook) -> Rulebook:
    """``book`` with ``auto_declare: true`` (every recommendation declared at once): for
    simulations, drills with no person declaring, and what-if reviews of the rules alone."""
    data = book.model_dump(by_alias=True, exclude_defaults=False)
    return Rulebook.model_validate({**data, "auto_declare": True})
