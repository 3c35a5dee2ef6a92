"""Policy as code: the rules a plan is checked against before anything changes.

`report` holds what every other part reads (a `PolicyReport` of `Finding`s, saved in plan files
as `Plan.policy`); the evaluation, the built-in pack, Rego and Python policies live beside it.
"""
