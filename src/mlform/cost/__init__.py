"""Cost estimates: the price catalog (`catalog`), what each resource type costs (`estimate`),
the cost section of a plan and the budget check (`report`), and rebuilding the catalog from the
AWS Price List API (`refresh`)."""
