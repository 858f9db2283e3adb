"""A single-node Kubernetes cluster on this machine, built from upstream Go modules.

``python -m tools.cluster up`` builds (once, cached under ``.cache/cluster``) kube-apiserver,
kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl and etcd from the pinned
``k8s.io/kubernetes`` module, CoreDNS and metrics-server from theirs, and the pause image from
the C source in the Kubernetes module; then it runs, under ``.cluster/``: a containerd of its
own (Debian's, CRI v1), etcd, the control plane, a kubelet with bridge CNI, kube-proxy in
iptables mode, CoreDNS and metrics-server, and writes ``.cluster/kubeconfig``. ``down`` stops
all of it and removes what it made (mounts, network namespaces, veths, iptables chains,
cgroups). Nothing is pulled from an image registry: every image is built here and imported.
"""
