output "ingress_class_name" {
  description = "IngressClass of the ingress controller (Traefik)."
  value       = local.ingress_class_name
}

output "ingress_namespace" {
  description = "Namespace of the ingress controller; the release's NetworkPolicy admits traffic from it."
  value       = helm_release.traefik.namespace
}

output "monitoring_namespace" {
  description = "Namespace of Prometheus; the release's NetworkPolicy admits scrapes from it."
  value       = helm_release.kube_prometheus_stack.namespace
}

output "cluster_issuer_name" {
  description = "cert-manager ClusterIssuer that issues the release's TLS certificate."
  value       = local.cluster_issuer_name
}

output "secret_store_name" {
  description = "External Secrets ClusterSecretStore backed by Secrets Manager under secret_name_prefix."
  value       = local.secret_store_name
}

output "grafana_admin_password" {
  description = "Generated Grafana admin password (user admin)."
  value       = random_password.grafana_admin.result
  sensitive   = true
}
