"""`--var-file`: Terraform's precedence and located errors, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli

CONFIG = """project: varfiles
environments:
  dev: {}
  prod: {}
variables:
  size: {default: 1, prod: 5}
  color: {default: red}
  shape: {default: round}
resources:
  mlform_data.a: {input: "${var.size}-${var.color}-${var.shape}"}
outputs:
  a: ${mlform_data.a.output}
"""


def _planned(cli: Cli, *args: str) -> str:
    r = cli.run("plan", "-e", "prod", *args)
    assert r.code == 0, r.err
    line = next(x for x in r.out.splitlines() if "+ input" in x)
    return line.split("=", 1)[1].strip()


def test_precedence_default_environment_files_in_order_then_var(cli: Cli) -> None:
    cli.write(CONFIG)
    cli.write("size: 2\ncolor: blue\n", "one.yaml")
    cli.write("size: 3\n", "two.yaml")
    cli.write("", "empty.yaml")
    assert _planned(cli) == '"5-red-round"'  # the environment's value over the default
    assert _planned(cli, "--var-file", "empty.yaml") == '"5-red-round"'
    assert _planned(cli, "--var-file", "one.yaml") == '"2-blue-round"'
    assert _planned(cli, "--var-file", "one.yaml", "--var-file", "two.yaml") == '"3-blue-round"'
    assert _planned(cli, "--var-file", "two.yaml", "--var-file", "one.yaml") == '"2-blue-round"'
    # --var wins wherever it is written
    assert _planned(cli, "--var", "size=9", "--var-file", "two.yaml",
                    "--var", "shape=square") == '"9-red-square"'


def test_every_stack_command_takes_var_files(cli: Cli) -> None:
    cli.write(CONFIG)
    cli.write("color: blue\n", "vars.yaml")
    r = cli.run("apply", "-e", "prod", "--auto-approve", "--var-file", "vars.yaml")
    assert r.code == 0, r.err
    assert 'a = "5-blue-round"' in r.out
    for command in ("validate", "show", "output", "graph", "drift", "refresh", "discover",
                    "cost"):
        r = cli.run(command, "-e", "prod", "--var-file", "vars.yaml")
        assert r.code in (0, 2), (command, r.err)
    r = cli.run("state", "list", "-e", "prod", "--var-file", "vars.yaml")
    assert (r.code, r.out) == (0, "mlform_data.a\n")
    r = cli.run("plan", "-e", "prod", "--detailed-exitcode", "--var-file", "vars.yaml")
    assert r.code == 0, r.out + r.err
    r = cli.run("destroy", "-e", "prod", "--auto-approve", "--var-file", "vars.yaml")
    assert r.code == 0, r.err


def test_var_file_errors_are_one_located_line(cli: Cli) -> None:
    cli.write(CONFIG)
    cli.write("color: blue\n\nsizee: 3\n", "typo.yaml")
    cli.write("- size\n", "list.yaml")
    cli.write("size: [1\n", "broken.yaml")
    cases = {
        "typo.yaml": "Error: typo.yaml:3:1: sizee: no variable 'sizee' is declared in "
                     "mlform.yaml; did you mean 'size'?\n",
        "list.yaml": "Error: list.yaml:1:1: a var file is a mapping of variable name -> "
                     "value, got a list\n",
        "missing.yaml": "Error: --var-file missing.yaml: file not found\n",
    }
    for name, err in cases.items():
        r = cli.run("plan", "--var-file", name)
        assert (r.code, r.out, r.err) == (1, "", err)
    r = cli.run("plan", "--var-file", "broken.yaml")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("Error: broken.yaml:2:1: invalid YAML: ")
    assert len(r.err.splitlines()) == 1


def test_workspace_takes_var_files(tmp_path: Path) -> None:
    from mlform.api import Workspace

    (tmp_path / "mlform.yaml").write_text(CONFIG)
    (tmp_path / "one.yaml").write_text("size: 2\ncolor: blue\n")
    ws = Workspace(tmp_path / "mlform.yaml", "prod", {"shape": "square"},
                   var_files=[tmp_path / "one.yaml"], offline=True)
    assert ws.stack.variables == {"size": 2, "color": "blue", "shape": "square"}
