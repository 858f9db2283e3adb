// A static test probe for pods on the cluster (no image can be pulled, so no busybox):
// the standard library only.
module bazaar.local/tools/cluster/probe

go 1.24.0
