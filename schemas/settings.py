"""How every service is configured: env vars, and CLI flags that mirror them.

A service's settings class is flat or holds groups (nested models, e.g. the detector's
``monitor`` and ``model``). Every field, grouped or not, is one env var
``{env_prefix}{group prefix}{NAME}`` (``DETECTOR_WINDOW_SIZE``,
``DETECTOR_MODEL_STEP_DAYS``) and one flag (``--window-size``, ``--model-step-days``):
its default, bounds and help exist once, in the field.
"""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from rich.markup import escape


@dataclass(frozen=True)
class Setting:
    path: tuple[str, ...]  # ("window_size",) or ("model", "step_days")
    env: str  # DETECTOR_MODEL_STEP_DAYS
    flag: str  # model_step_days: the flag --model-step-days and the overrides' key
    field: FieldInfo


def shown_default(field: FieldInfo) -> str | None:
    """The default as a user would write it in the environment (None: there is none)."""
    value = field.default
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _group_prefix(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return str(extra.get("env_group_prefix", ""))


def _group(field: FieldInfo) -> type[BaseModel] | None:
    kind = field.annotation
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def settings_of(cls: type[BaseSettings]) -> Iterator[Setting]:
    """Every setting of a settings class, groups flattened."""
    prefix = cls.model_config.get("env_prefix", "")
    for name, field in cls.model_fields.items():
        group = _group(field)
        if group is None:
            yield Setting((name,), f"{prefix}{name}".upper(), name, field)
            continue
        sub = _group_prefix(field)
        for sub_name, sub_field in group.model_fields.items():
            flat = f"{sub}{sub_name}".lower()
            yield Setting((name, sub_name), f"{prefix}{flat}".upper(), flat, sub_field)


def nest(cls: type[BaseSettings], flat: dict[str, Any]) -> dict[str, Any]:
    """{"model_step_days": "7"} → {"model": {"step_days": "7"}} for ``cls``."""
    out: dict[str, Any] = {}
    for setting in settings_of(cls):
        if setting.flag in flat:
            target = out
            for part in setting.path[:-1]:
                target = target.setdefault(part, {})
            target[setting.path[-1]] = flat[setting.flag]
    return out


class _GroupEnvSource(PydanticBaseSettingsSource):
    """Grouped fields from their flat env vars (pydantic's own env source reads the rest)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        flat = {s.flag: os.environ[s.env] for s in settings_of(self.settings_cls)
                if len(s.path) > 1 and s.env in os.environ}
        return nest(self.settings_cls, flat)


class GroupedSettings(BaseSettings):
    """Base for settings classes with groups read from flat env vars."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, _GroupEnvSource(settings_cls), env_settings, dotenv_settings,
                file_secret_settings)


def flags_from(*settings_classes: type[BaseSettings]) -> Callable:
    """Decorate ``fn(*own_params, **overrides)`` so typer offers, besides ``fn``'s own
    parameters, one --flag per setting of each class: it reads the same env var, shows the
    default, and arrives as text in ``overrides`` for the settings class to validate."""

    def decorate(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn, include_extras=True)  # Annotated[..., typer.Option(help=...)]
        params = [p.replace(annotation=hints.get(p.name, p.annotation))
                  for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        for cls in settings_classes:
            for s in settings_of(cls):
                default = shown_default(s.field)
                shown = "" if default is None else f" [default: {default}]"
                help_text = escape(f"{s.field.description or s.flag}{shown}")
                option = typer.Option(None, f"--{s.flag.replace('_', '-')}", envvar=s.env,
                                      help=help_text, show_default=False)
                params.append(inspect.Parameter(s.flag, inspect.Parameter.KEYWORD_ONLY,
                                                default=option, annotation=str | None))
        fn.__signature__ = inspect.Signature(params)
        return fn

    return decorate


def build(cls: type[BaseSettings], overrides: dict[str, str | None]) -> BaseSettings:
    """``cls`` from the given flags (None: not given) over its env vars and defaults."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return cls(**nest(cls, given))
