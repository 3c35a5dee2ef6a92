"""`value_from:` references, checked at load and read when a plan or apply needs the value.

    env:NAME                          an environment variable of the mlform process
    file:PATH                         a file, relative to the config file's folder (one
                                      trailing newline is dropped, as editors add one)
    aws-secretsmanager:ID[#key]       another secret's current value (ID: name or ARN), read
                                      with the environment's AWS session; with `#key`, the
                                      value is a JSON object and that key's value is taken
    ssm:/parameter/name               an SSM parameter (GetParameter WithDecryption)
    var:NAME                          (internal) a sensitive variable given with --var

Reading is done here, but nothing here keeps or prints a value: errors name the reference,
the config file and line, never what was read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.config.refs import Ref
from mlform.providers.schema import sensitive_fields
from mlform.sensitive import SecretRef, find_refs, unlogged

if TYPE_CHECKING:
    from mlform.config.checks import Builder
    from mlform.config.models import VariableConfig
    from mlform.config.resources import ResourceConfig
    from mlform.providers.base import ResourceType

SCHEMES = ("env", "file", "aws-secretsmanager", "ssm")
# A client for an AWS service of the environment being planned ("secretsmanager", "ssm").
Clients = Callable[[str], Any]


def source_problem(source: str) -> str | None:
    """What is wrong with a `value_from` text, or None if it is well formed."""
    scheme, sep, rest = source.partition(":")
    if not sep or scheme not in SCHEMES:
        return (f"value_from: '{source}' is not a reference; expected one of env:NAME, "
                "file:PATH, aws-secretsmanager:NAME_OR_ARN[#json-key], ssm:/parameter/name")
    if not rest.strip():
        return f"value_from: '{source}' names nothing after '{scheme}:'"
    if scheme == "ssm" and not rest.startswith("/") and not rest.startswith("arn:"):
        return f"value_from: '{source}': an SSM parameter name starts with '/'"
    return None


def read_value(ref: SecretRef, clients: Clients) -> str:
    """The value `ref` points at; MlformError (naming `ref` and where it is written) if it
    cannot be read."""
    scheme, _, rest = ref.source.partition(":")
    if scheme == "var":
        if ref.given is None:
            raise ref.fail("a sensitive variable given with --var or a var file is never "
                           "saved; give it again, or use value_from (env:...) for saved plans")
        return ref.given
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ref.fail(f"environment variable {rest} is not set")
        return value
    if scheme == "file":
        path = Path(rest).expanduser()
        if not path.is_absolute():
            path = Path(ref.base_dir) / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ref.fail(f"cannot read {path}: {exc.strerror}") from None
        return text[:-1] if text.endswith("\n") else text
    if scheme == "aws-secretsmanager":
        return _from_secretsmanager(ref, rest, clients)
    if scheme == "ssm":
        return _from_ssm(ref, rest, clients)
    raise ref.fail("unknown kind of reference")


def _from_secretsmanager(ref: SecretRef, rest: str, clients: Clients) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    secret_id, _, key = rest.partition("#")
    try:
        with unlogged():
            answer = clients("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ref.fail(f"cannot read the secret ({code})") from None
    except BotoCoreError as exc:
        raise ref.fail(f"cannot read the secret ({type(exc).__name__})") from None
    value = answer.get("SecretString")
    if value is None:
        raise ref.fail("the secret holds binary data, not a string")
    if not key:
        return str(value)
    try:
        document = json.loads(value)
    except ValueError:
        raise ref.fail(f"#{key}: the secret's value is not a JSON object") from None
    if not isinstance(document, dict) or key not in document:
        raise ref.fail(f"#{key}: the secret's JSON has no key '{key}'")
    found = document[key]
    return found if isinstance(found, str) else json.dumps(found)


def _from_ssm(ref: SecretRef, name: str, clients: Clients) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with unlogged():
            answer = clients("ssm").get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ref.fail(f"cannot read the parameter ({code})") from None
    except BotoCoreError as exc:
        raise ref.fail(f"cannot read the parameter ({type(exc).__name__})") from None
    return str(answer["Parameter"]["Value"])


# -- load-time checks: where sensitive values may come from and go ----------------------------

def sensitive_variable(b: Builder, name: str, var: VariableConfig, given: Any) -> SecretRef:
    """The value of a sensitive variable as a load holds it: where it comes from, never the
    value (except one given with --var, kept out of every repr and dump). Its value is read
    from `given` (--var or a var file), else `value_from`; one written in the config is
    refused by `credentials`, and anything else is reported here."""
    at = ("variables", name)
    label = f"variables.{name}"
    if not var.sensitive:
        b.error(f"{label}.value_from: a variable read with value_from is a secret; add "
                "`sensitive: true`", (*at, "value_from"), key=True)
    if given is not None:
        if isinstance(given, (dict, list)):
            b.error(f"{label}: a sensitive variable is a string, not a "
                    f"{type(given).__name__}", at, key=True)
        return SecretRef(f"var:{name}", label, b.positions.key(at), given=str(given))
    if var.value_from is None:
        if var.default is not None or var.per_environment:
            b.error(f"{label}: a sensitive variable's value is never written in the config; "
                    "use value_from: env:NAME (or file:, aws-secretsmanager:, ssm:)",
                    at, key=True)
        else:
            b.error(f"{label}: a sensitive variable needs a value: value_from: env:NAME (or "
                    f"file:, aws-secretsmanager:, ssm:), or --var {name}=...", at, key=True)
        return SecretRef(f"var:{name}", label, b.positions.key(at))
    problem = source_problem(var.value_from)
    if problem:
        b.error(f"{label}.{problem}", (*at, "value_from"))
    return SecretRef(var.value_from, label, b.positions.of((*at, "value_from")),
                     base_dir=str(b.path.parent))


def place_refs(b: Builder, res: ResourceConfig, rtype: type[ResourceType[Any]],
               at: tuple[str | int, ...]) -> None:
    """Check that every sensitive value in `res` is a whole sensitive argument, and give a
    component's references the position of its `value_from`.

    A sensitive value is refused anywhere else rather than marked sensitive there (as
    Terraform does): an ordinary argument is read back from the cloud into the state and
    shown by the cloud's own console, so the value would leak whatever mlform masks."""
    allowed = sensitive_fields(rtype.Args)
    for key, value in list(res.template.items()):
        for ref in find_refs(value):
            if key in allowed and value is ref:
                continue
            where = f"{res.address}.{key}"
            what = (f"the sensitive arguments of {rtype.type_name} are "
                    f"{', '.join(sorted(allowed))}" if allowed
                    else f"{rtype.type_name} has no sensitive argument")
            b.error(f"{where}: {ref.label} is sensitive and cannot be used here ({what}); "
                    "pass other resources the secret's ARN instead", (*at, key))
        if isinstance(value, SecretRef) and value.pos is None:
            res.template[key] = replace(value, pos=b.positions.of((*at, "value_from")),
                                        base_dir=str(b.path.parent))


def sensitive_output(b: Builder, name: str, template: Any,
                     refs: list[tuple[tuple[str | int, ...], Ref]],
                     types: dict[str, type[ResourceType[Any]]], sensitive: bool,
                     at: tuple[str | int, ...]) -> None:
    """Terraform's rule: an output whose value comes from a sensitive value must say
    `sensitive: true` (so `mlform output` hides it unless asked)."""
    if sensitive:
        return
    from_secret = bool(find_refs(template)) or any(
        ref.kind == "resource" and ref.address in types and ref.attr_path
        and ref.attr_path[0] in sensitive_fields(types[ref.address].Args)
        for _, ref in refs)
    if from_secret:
        b.error(f"outputs.{name}: Output refers to sensitive values; add `sensitive: true` "
                "(it is then hidden unless asked for with --show-sensitive)", at, key=True)
