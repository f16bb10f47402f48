"""tpat's own lowering choices on top of stock TVM: legalizations and schedule rules that run before dlight's."""
