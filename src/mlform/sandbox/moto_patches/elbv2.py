"""What the sandbox adds to moto for this service (see the package docstring).

- CreateLoadBalancer on a name in use: moto makes a second load balancer of that name (its ARN
  carries a random id, so its duplicate check never matches). AWS returns the existing one when
  the settings are the same (scheme and type), and refuses with DuplicateLoadBalancerName
  otherwise.
- CreateTargetGroup on a name in use: moto refuses always; AWS returns the existing group when
  the settings are the same (protocol, port, VPC, target type).
- CreateListener on a port in use: moto makes a second listener on that port (it checks the
  port against listener ARNs). AWS returns the existing listener when the settings are the same
  (protocol, certificate, actions), and refuses with DuplicateListener otherwise.
- DeleteLoadBalancer with deletion protection on: moto deletes it; AWS refuses with
  OperationNotPermitted, which is what `enable_deletion_protection` is for.
"""

from __future__ import annotations

from typing import Any


def patch_elbv2() -> None:
    from moto.elbv2.exceptions import (
        DuplicateListenerError,
        DuplicateLoadBalancerName,
        DuplicateTargetGroupName,
    )
    from moto.elbv2.exceptions import ELBClientError as RESTError
    from moto.elbv2.models import ELBv2Backend as Backend

    if getattr(Backend, "_mlform_patched", False):
        return
    original_create_lb = Backend.create_load_balancer
    original_create_tg = Backend.create_target_group
    original_create_listener = Backend.create_listener
    original_delete_lb = Backend.delete_load_balancer

    def create_load_balancer(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        for lb in self.load_balancers.values():
            if lb.name == name:
                scheme = kwargs.get("scheme") or "internet-facing"
                kind = kwargs.get("loadbalancer_type") or "application"
                if (lb.scheme, lb.type) == (scheme, kind):
                    return lb
                raise DuplicateLoadBalancerName()
        return original_create_lb(self, name, *args, **kwargs)

    def create_target_group(self: Any, name: str, **kwargs: Any) -> Any:
        for tg in self.target_groups.values():
            if tg.name == name:
                same = (str(tg.protocol), str(tg.port), tg.vpc_id, tg.target_type) == (
                    str(kwargs.get("protocol")), str(kwargs.get("port")),
                    kwargs.get("vpc_id"), kwargs.get("target_type") or "instance")
                if same:
                    return tg
                raise DuplicateTargetGroupName()
        return original_create_tg(self, name, **kwargs)

    def create_listener(self: Any, load_balancer_arn: str, protocol: str, port: str,
                        ssl_policy: str, certificate: str | None,
                        actions: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        balancer = self.load_balancers.get(load_balancer_arn)
        for listener in (balancer.listeners.values() if balancer else ()):
            if str(listener.port) == str(port):
                same = (listener.protocol == protocol and listener.certificate == certificate
                        and [a.data for a in listener.default_actions] == list(actions))
                if same:
                    return listener
                raise DuplicateListenerError()
        return original_create_listener(self, load_balancer_arn, protocol, port, ssl_policy,
                                        certificate, actions, *args, **kwargs)

    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
            raise RESTError("OperationNotPermitted",
                            f"Load balancer '{arn}' cannot be deleted because deletion "
                            "protection is enabled")
        original_delete_lb(self, arn)

    setattr(Backend, "create_load_balancer", create_load_balancer)  # noqa: B010
    setattr(Backend, "create_target_group", create_target_group)  # noqa: B010
    setattr(Backend, "create_listener", create_listener)  # noqa: B010
    setattr(Backend, "delete_load_balancer", delete_load_balancer)  # noqa: B010
    setattr(Backend, "_mlform_patched", True)  # noqa: B010
