"""CLI flags that mirror a settings class's env vars, so the two never drift apart."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import typer
from pydantic_settings import BaseSettings


def flags_from(*settings_classes: type[BaseSettings]) -> Callable:
    """Decorate ``fn(**overrides)`` so typer offers one --flag per settings field.

    Each flag reads the same env var as the settings class and shows its default; values
    arrive as text and are validated by the settings class itself.
    """

    def decorate(fn: Callable) -> Callable:
        params = []
        for cls in settings_classes:
            prefix = cls.model_config.get("env_prefix", "")
            for name, field in cls.model_fields.items():
                env = f"{prefix}{name}".upper()
                help_text = f"{field.description or name} [default: {field.default}]"
                option = typer.Option(None, f"--{name.replace('_', '-')}", envvar=env,
                                      help=help_text, show_default=False)
                params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                                default=option, annotation=str | None))
        fn.__signature__ = inspect.Signature(params)
        return fn

    return decorate


def split_overrides(overrides: dict[str, str | None], *settings_classes: type[BaseSettings]
                    ) -> list[dict[str, str]]:
    """The non-empty overrides, one dict per settings class."""
    return [{k: v for k, v in overrides.items() if v is not None and k in cls.model_fields}
            for cls in settings_classes]
