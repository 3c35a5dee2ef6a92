"""What the sandbox adds to moto for this service (see the package docstring).

- EC2 UpdateSecurityGroupRuleDescriptionsIngress/Egress: moto matches a rule whose source is a
  security group by its old description too, so it never found the rule and silently kept the
  old description; nor did it remove a description left out of the request, as AWS does.
"""

from __future__ import annotations

from typing import Any


def patch_ec2() -> None:
    from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError
    from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule

    if getattr(SecurityGroupBackend, "_mlform_patched", False):
        return

    def describer(egress: bool) -> Any:
        def update(self: Any, group_name_or_id: str, ip_protocol: str, from_port: Any,
                   to_port: Any, ip_ranges: list[Any], source_groups: Any = None,
                   prefix_list_ids: Any = None, security_rule_ids: Any = None,
                   vpc_id: str | None = None) -> Any:
            group = self.get_security_group_by_name_or_id(group_name_or_id, vpc_id)
            if group is None:
                raise InvalidSecurityGroupNotFoundError(group_name_or_id)
            # Protocol and ports as moto keeps them ("6" is tcp, -1 has no ports).
            probe = SecurityGroupRule(self, ip_protocol, group.id, from_port, to_port, None)
            sources: list[tuple[Any, str, tuple[str, ...]]] = [
                (s, "ip_range", ("CidrIp", "CidrIpv6"))
                for s in ip_ranges or [] if isinstance(s, dict)]
            sources += [(s, "source_group", ("GroupId",)) for s in source_groups or []]
            for rule in group.egress_rules if egress else group.ingress_rules:
                if (rule.ip_protocol, rule.from_port, rule.to_port) != (
                        probe.ip_protocol, probe.from_port, probe.to_port):
                    continue
                for source, where, keys in sources:
                    held = getattr(rule, where)
                    if any(k in source and held.get(k) == source[k] for k in keys):
                        if source.get("Description"):
                            held["Description"] = source["Description"]
                        else:
                            held.pop("Description", None)
            return group

        return update

    setattr(SecurityGroupBackend, "update_security_group_rule_descriptions_ingress",  # noqa: B010
            describer(egress=False))
    setattr(SecurityGroupBackend, "update_security_group_rule_descriptions_egress",  # noqa: B010
            describer(egress=True))
    setattr(SecurityGroupBackend, "_mlform_patched", True)  # noqa: B010
