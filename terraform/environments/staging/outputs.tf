output "cluster_name" {
  description = "EKS cluster name, for `aws eks update-kubeconfig --name`."
  value       = module.cluster.cluster_name
}

output "url" {
  description = "Public URL of the shop."
  value       = module.release.url
}

output "release" {
  description = "Helm release name, namespace and chart version of Bazaar."
  value = {
    name          = module.release.release_name
    namespace     = module.release.namespace
    chart_version = module.release.chart_version
  }
}

output "grafana_admin_password" {
  description = "Grafana admin password (user admin); read it with `terraform output -raw grafana_admin_password`."
  value       = module.addons.grafana_admin_password
  sensitive   = true
}
