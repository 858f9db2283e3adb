# In-cluster add-ons, as Helm releases with pinned chart versions. Order matters only where a
# controller's webhook or CRDs must exist first; everything else installs in parallel.

locals {
  monitoring_namespace = "monitoring"
  ingress_namespace    = "traefik"
  ingress_class_name   = "traefik"
  secret_store_name    = "aws-secrets-manager"
  cluster_issuer_name  = "letsencrypt"
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.chart_versions.cluster_autoscaler
  namespace  = var.node_autoscaler_namespace

  values = [yamlencode({
    autoDiscovery = { clusterName = var.cluster_name }
    awsRegion     = var.region
    rbac = {
      serviceAccount = { create = true, name = var.node_autoscaler_service_account }
    }
    extraArgs = {
      # Spread scale-ups over the zones so a zone outage never takes most nodes with it.
      balance-similar-node-groups = true
      expander                    = "least-waste"
      skip-nodes-with-system-pods = false
    }
    podDisruptionBudget = { maxUnavailable = 1 }
  })]
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.chart_versions.aws_load_balancer_controller
  namespace  = local.load_balancer_namespace

  values = [yamlencode({
    clusterName  = var.cluster_name
    region       = var.region
    vpcId        = var.vpc_id
    replicaCount = 2
    serviceAccount = {
      create = true
      name   = local.load_balancer_service_account
    }
  })]

  depends_on = [module.load_balancer_controller_pod_identity]
}

# The ingress controller: Traefik behind a Network Load Balancer that the load balancer
# controller provisions. TLS ends at Traefik with cert-manager's certificates.
resource "helm_release" "traefik" {
  name             = "traefik"
  repository       = "https://traefik.github.io/charts"
  chart            = "traefik"
  version          = var.chart_versions.traefik
  namespace        = local.ingress_namespace
  create_namespace = true

  values = [yamlencode({
    deployment = { replicas = 3 }
    podDisruptionBudget = {
      enabled        = true
      maxUnavailable = 1
    }
    ingressClass = {
      enabled        = true
      isDefaultClass = false
      name           = local.ingress_class_name
    }
    providers = {
      kubernetesIngress = {
        publishedService = { enabled = true }
      }
    }
    service = {
      annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-type"            = "external"
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type" = "ip"
        "service.beta.kubernetes.io/aws-load-balancer-scheme"          = "internet-facing"
        # IP targets hide the client address unless the NLB preserves it; Bazaar's throttling,
        # lockout and access logs need the real one.
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes" = "preserve_client_ip.enabled=true"
      }
    }
    metrics = {
      prometheus = {
        serviceMonitor = { enabled = true, namespace = local.ingress_namespace }
      }
    }
  })]

  # The controller's webhook must exist before the Service, or the in-tree provider makes a
  # Classic Load Balancer instead.
  depends_on = [helm_release.aws_load_balancer_controller, helm_release.kube_prometheus_stack]
}

resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = var.chart_versions.cert_manager
  namespace        = "cert-manager"
  create_namespace = true

  values = [yamlencode({
    crds         = { enabled = true }
    replicaCount = 2
    webhook      = { replicaCount = 2 }
    prometheus = {
      servicemonitor = { enabled = true }
    }
  })]

  depends_on = [helm_release.kube_prometheus_stack]
}

resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = var.chart_versions.external_secrets
  namespace        = local.external_secrets_namespace
  create_namespace = true

  values = [yamlencode({
    installCRDs  = true
    replicaCount = 2
    serviceAccount = {
      create = true
      name   = local.external_secrets_service_account
    }
    serviceMonitor = { enabled = true }
  })]

  # Pod identity credentials are injected when a pod starts: the association must come first.
  depends_on = [aws_eks_pod_identity_association.external_secrets, helm_release.kube_prometheus_stack]
}

resource "helm_release" "keda" {
  name             = "keda"
  repository       = "https://kedacore.github.io/charts"
  chart            = "keda"
  version          = var.chart_versions.keda
  namespace        = "keda"
  create_namespace = true

  values = [yamlencode({
    prometheus = {
      operator = {
        enabled        = true
        serviceMonitor = { enabled = true }
      }
      metricServer = {
        enabled        = true
        serviceMonitor = { enabled = true }
      }
    }
  })]

  depends_on = [helm_release.kube_prometheus_stack]
}

# Grafana's admin password; kept out of the chart's well-known default.
resource "random_password" "grafana_admin" {
  length  = 32
  special = false
}

resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.chart_versions.kube_prometheus_stack
  namespace        = local.monitoring_namespace
  create_namespace = true

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        replicas  = var.prometheus_replicas
        retention = var.prometheus_retention
        # Pick up the ServiceMonitors and PrometheusRules of every release (Bazaar's chart ships
        # its own), not only those labelled for this Helm release.
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
        storageSpec = {
          volumeClaimTemplate = {
            spec = {
              accessModes = ["ReadWriteOnce"]
              resources   = { requests = { storage = var.prometheus_storage_size } }
            }
          }
        }
      }
    }
    alertmanager = {
      alertmanagerSpec = { replicas = 2 }
    }
    grafana = {
      adminPassword = random_password.grafana_admin.result
      sidecar = {
        # Bazaar's chart ships its dashboards as ConfigMaps with this label, in its own namespace.
        dashboards = {
          enabled         = true
          label           = "grafana_dashboard"
          labelValue      = "1"
          searchNamespace = "ALL"
        }
      }
    }
  })]
}

# The cluster-wide objects that need the CRDs above: the secret store backed by Secrets Manager
# and the Let's Encrypt issuer. A local chart, so nothing is planned against CRDs that do not
# exist yet on the first apply.
resource "helm_release" "cluster_config" {
  name      = "cluster-config"
  chart     = "${path.module}/cluster-config"
  namespace = local.external_secrets_namespace

  values = [yamlencode({
    secretStore = {
      name       = local.secret_store_name
      region     = var.region
      namespaces = var.secret_store_namespaces
    }
    clusterIssuer = {
      name             = local.cluster_issuer_name
      server           = var.acme_server
      email            = var.acme_email
      ingressClassName = local.ingress_class_name
    }
  })]

  depends_on = [helm_release.external_secrets, helm_release.cert_manager, helm_release.traefik]
}
