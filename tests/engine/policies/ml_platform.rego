# A conftest policy written for `terraform show -json` plans, as a platform team would write
# it; tests/engine/test_rego_policy.py evaluates it on mlform's plans and on Terraform's.
package main

import rego.v1

managed(type) := [rc |
	some rc in input.resource_changes
	rc.type == type
	rc.mode == "managed"
	some action in rc.change.actions
	action in {"create", "update"}
]

# The configuration entry of a root-module resource, where its references are.
config_of(address) := [r |
	some r in input.configuration.root_module.resources
	r.address == address
]

versioned(bucket) if {
	some v in managed("aws_s3_bucket_versioning")
	some conf in config_of(v.address)
	bucket in conf.expressions.bucket.references
	some vc in v.change.after.versioning_configuration
	vc.status == "Enabled"
}

deny contains msg if {
	some b in managed("aws_s3_bucket")
	not versioned(b.address)
	msg := sprintf("%s: S3 buckets must have versioning enabled", [b.address])
}

deny contains msg if {
	some rc in input.resource_changes
	some action in rc.change.actions
	action in {"create", "update"}
	"tags_all" in object.keys(rc.change.after)
	not rc.change.after.tags_all.owner
	msg := sprintf("%s: every tagged resource needs an `owner` tag", [rc.address])
}

deny contains msg if {
	some r in managed("aws_ecr_repository")
	not scans_on_push(r)
	msg := sprintf("%s: ECR repositories must scan images on push", [r.address])
}

scans_on_push(r) if {
	some c in r.change.after.image_scanning_configuration
	c.scan_on_push == true
}
