"""Config files: YAML read safely, ``${ENV}`` placeholders resolved, pydantic validation.

Every problem becomes a ``ConfigProblem`` printed as ``FILE: field: message``;
unknown keys get a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from crawler.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=BaseModel)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_mapping(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is an empty mapping)."""
    label = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([ConfigProblem(label, "(file)", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(label, "(file)", "not UTF-8 text; save the file as UTF-8")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(label, where, f"YAML syntax error: {problem}")]) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(label, "(file)", "must be a mapping of keys to values")])
    return raw


def validate(model: type[M], raw: dict[str, Any], label: str, environ: Mapping[str, str] | None = None) -> M:
    """Resolve ``${ENV}`` placeholders (from ``environ``, default the process environment) and
    validate; raise ConfigError listing every problem."""
    env_problems: list[str] = []
    raw = _substitute_env(raw, "", env_problems, os.environ if environ is None else environ)
    problems = [ConfigProblem(label, *p.split("\0", 1)) for p in env_problems]
    try:
        result = model.model_validate(raw)
    except ValidationError as exc:
        problems += [ConfigProblem(label, *_field_message(e, model)) for e in exc.errors()]
    if problems:
        raise ConfigError(problems)
    return result


def _substitute_env(node: Any, path: str, problems: list[str], environ: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute_env(v, f"{path}.{k}" if path else str(k), problems, environ) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, f"{path}.{i}", problems, environ) for i, v in enumerate(node)]
    if isinstance(node, str):

        def repl(match: re.Match[str]) -> str:
            value = environ.get(match.group(1), match.group(2))
            if value is None:
                problems.append(f"{path}\0environment variable {match.group(1)} is not set")
                return match.group(0)
            return value

        return _ENV.sub(repl, node)
    return node


def _field_message(error: dict[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    loc = [str(part) for part in error["loc"]]
    field = ".".join([*loc, (error.get("ctx") or {}).get("field", "")]).strip(".") or "(file)"  # a model check names its field
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return field, f"unknown key{hint} (allowed: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required key is missing"
    return field, message


def _allowed_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    for part in loc:
        if part.isdigit() or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(part)
        if info is None:
            break
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
