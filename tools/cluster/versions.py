"""The pinned versions: one place, read by the build, the images and the docs' tests."""

KUBERNETES = "v1.33.13"
ETCD = "v3.5.21"  # the etcd that k8s.io/kubernetes v1.33.13 pins in its own go.mod
COREDNS = "v1.12.0"  # kubeadm's CoreDNS for Kubernetes 1.33
METRICS_SERVER = "v0.8.0"
PAUSE = "3.10.1"  # build/pause/Makefile of k8s.io/kubernetes v1.33.13

PROBE = "v1"  # tools/cluster/gomod/probe, the test pods' DNS and HTTP client

PAUSE_IMAGE = f"bazaar.local/pause:{PAUSE}"
COREDNS_IMAGE = f"bazaar.local/coredns:{COREDNS}"
METRICS_SERVER_IMAGE = f"bazaar.local/metrics-server:{METRICS_SERVER}"
PROBE_IMAGE = f"bazaar.local/probe:{PROBE}"
