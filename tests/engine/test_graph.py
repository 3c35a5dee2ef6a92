"""Apply ordering rules (see mlform.engine.apply), as data."""

from __future__ import annotations

import graphlib

from mlform.engine.apply import APPLY, DELETE, build_graph
from mlform.engine.plan import Action, ResourceChange


def change(address: str, action: Action, deps: tuple[str, ...] = (),
           prior: tuple[str, ...] = (), cbd: bool = False) -> ResourceChange:
    return ResourceChange(address=address, type="mlform_data", action=action,
                          dependencies=list(deps), prior_dependencies=list(prior),
                          create_before_destroy=cbd, before={"id": address})


def order(changes: list[ResourceChange]) -> list[tuple[str, str]]:
    return list(graphlib.TopologicalSorter(build_graph(changes)).static_order())


def test_creates_follow_their_dependencies() -> None:
    g = build_graph([change("x.b", Action.CREATE, ("x.a",)), change("x.a", Action.CREATE)])
    assert g[("x.b", APPLY)] == {("x.a", APPLY)}


def test_deletes_go_dependants_first() -> None:
    seq = order([change("x.a", Action.DELETE), change("x.b", Action.DELETE, prior=("x.a",))])
    assert seq.index(("x.b", DELETE)) < seq.index(("x.a", DELETE))


def test_destroy_then_create_replacement() -> None:
    seq = order([change("x.a", Action.REPLACE, prior=()),
                 change("x.b", Action.REPLACE, ("x.a",), ("x.a",))])
    assert seq.index(("x.b", DELETE)) < seq.index(("x.a", DELETE))
    assert seq.index(("x.a", DELETE)) < seq.index(("x.a", APPLY)) < seq.index(("x.b", APPLY))


def test_create_before_destroy_deletes_the_old_object_last() -> None:
    seq = order([change("x.cfg", Action.REPLACE, cbd=True),
                 change("x.endpoint", Action.UPDATE, ("x.cfg",), ("x.cfg",))])
    assert seq.index(("x.cfg", APPLY)) < seq.index(("x.endpoint", APPLY))
    assert seq.index(("x.endpoint", APPLY)) < seq.index(("x.cfg", DELETE))


def test_removed_resource_is_deleted_after_its_former_dependants_change() -> None:
    seq = order([change("x.old", Action.DELETE),
                 change("x.user", Action.UPDATE, (), ("x.old",))])
    assert seq.index(("x.user", APPLY)) < seq.index(("x.old", DELETE))


def test_deposed_objects_are_deleted_before_what_they_used() -> None:
    deposed = change("x.a", Action.DELETE, prior=("x.b",))
    deposed.deposed = "old-id"
    seq = order([deposed, change("x.b", Action.DELETE)])
    assert seq.index(("x.a (deposed old-id)", DELETE)) < seq.index(("x.b", DELETE))


def test_mixed_create_before_destroy_chain_has_no_cycle() -> None:
    # The planner propagates create_before_destroy to replaced dependencies; with that, the
    # graph of a replaced chain is acyclic.
    changes = [change("x.a", Action.REPLACE, cbd=True),
               change("x.b", Action.REPLACE, ("x.a",), ("x.a",), cbd=True)]
    assert len(order(changes)) == 4


def test_an_update_waits_for_dependants_replaced_destroy_first() -> None:
    # A scaling policy on a target on an endpoint: the endpoint's update comes after both
    # are gone, and both come back after it (rule 6, then rules 1 to 3).
    seq = order([change("x.endpoint", Action.UPDATE),
                 change("x.target", Action.REPLACE, ("x.endpoint",), ("x.endpoint",)),
                 change("x.policy", Action.REPLACE, ("x.target",), ("x.target",))])
    assert seq == [("x.policy", DELETE), ("x.target", DELETE), ("x.endpoint", APPLY),
                   ("x.target", APPLY), ("x.policy", APPLY)]


def test_an_update_waits_for_removed_dependants() -> None:
    seq = order([change("x.endpoint", Action.UPDATE),
                 change("x.target", Action.DELETE, prior=("x.endpoint",))])
    assert seq == [("x.target", DELETE), ("x.endpoint", APPLY)]


def test_the_update_rule_gives_way_to_an_order_already_required() -> None:
    # x.old is removed after x.user moved off it (rule 5); x.user now reads x.shared, which
    # x.old also read: x.old's delete cannot also come before x.shared's update.
    changes = [change("x.shared", Action.UPDATE),
               change("x.old", Action.DELETE, prior=("x.shared",)),
               change("x.user", Action.UPDATE, ("x.shared",), ("x.old",))]
    seq = order(changes)
    assert seq.index(("x.shared", APPLY)) < seq.index(("x.user", APPLY))
    assert seq.index(("x.user", APPLY)) < seq.index(("x.old", DELETE))
