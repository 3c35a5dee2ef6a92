"""Credentials written in a config or var file, refused before anything reads them.

A secret in `mlform.yaml` or a var file ends up in git, in every plan and in the state. Each
string value is checked for what is recognisably a credential (an AWS access key id, a private
key, a GitHub or Slack token, a JSON web token) and, under a key or variable whose name says it
holds one (`password`, `db_password`, `api_key`, `token`, `client_secret`, `secret_string`, ...),
or under a variable declared `sensitive: true`, for any literal value; a `${...}` reference and
a `value_from:` reference are not literals. Each finding is one located error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlform.config.yamlpos import Positions
from mlform.errors import MlformError

# (what it is, how it looks); only shapes specific enough not to match ordinary values.
SHAPES = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{40,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a JSON web token",
     re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
)
# Names of keys and variables that hold a secret (the whole name, or its last `_` part).
SECRET_NAME = re.compile(
    r"(?i)(?:^|_)(?:password|passwd|secret|secret_key|secret_access_key|access_key|api_key|"
    r"apikey|token|auth_token|access_token|private_key|client_secret|secret_string)$")
# Keys of a variable that hold no value of it.
NOT_VALUES = frozenset({"description", "value_from"})
ADVICE = ("credentials must never be written in files (they end up in git, plans and the "
          "state): read it with value_from (env:NAME, file:PATH, aws-secretsmanager:ID, "
          "ssm:/name) in a `secret` component or a variable with sensitive: true, or let the "
          "service manage it (manage_master_user_password)")


def find_credentials(data: Any, positions: Positions, what: str = "the config") -> list[
        MlformError]:
    """One located error per credential in `data` (a loaded config or var file)."""
    problems = []
    sensitive = _sensitive_variables(data)
    for path, value in _strings(data, ()):
        shape = next((label for label, pattern in SHAPES if pattern.search(value)), None)
        named = _secret_name(path, sensitive)
        if shape is None and (named is None or not _literal(value)):
            continue
        found = shape or (f"a value of the {named}" if named and named.startswith("sensitive ")
                          else f"a {named} value")
        where = ".".join(str(p) for p in path)
        problems.append(MlformError(f"{where}: {found} is written in {what}; {ADVICE}",
                                    pos=positions.of(path)))
    return problems


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...],
                                                                      str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))
    elif isinstance(value, str):
        yield path, value


def _sensitive_variables(data: Any) -> frozenset[str]:
    """The variables a config (not a var file) declares `sensitive: true`."""
    variables = data.get("variables") if isinstance(data, dict) else None
    if not isinstance(variables, dict):
        return frozenset()
    return frozenset(n for n, v in variables.items()
                     if isinstance(v, dict) and v.get("sensitive") is True)


def _secret_name(path: tuple[str | int, ...], sensitive: frozenset[str] = frozenset()
                 ) -> str | None:
    """The name that says the value at `path` is a secret: its own key, or the variable it is
    a value of (`variables.db_password.prod`, but not its `description` or `value_from`), or
    a variable declared sensitive (`sensitive variable x`)."""
    key = next((k for k in reversed(path) if isinstance(k, str)), None)
    if key is not None and key != "value_from" and SECRET_NAME.search(key):
        return key
    if len(path) >= 3 and path[0] == "variables" and path[2] not in NOT_VALUES:
        if path[1] in sensitive:
            return f"sensitive variable {path[1]}"
        if isinstance(path[1], str) and SECRET_NAME.search(path[1]):
            return path[1]
    return None


def _literal(value: str) -> bool:
    """A value written out, not a reference to one (`${var.x}`, an ARN to a secret)."""
    text = value.strip()
    return bool(text) and "${" not in text and not text.startswith("arn:")
