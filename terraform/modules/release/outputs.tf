output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.bazaar.name
}

output "namespace" {
  description = "Namespace of the release."
  value       = helm_release.bazaar.namespace
}

output "chart_version" {
  description = "Version of the deployed chart."
  value       = helm_release.bazaar.metadata[0].version
}

output "url" {
  description = "Public URL of the shop."
  value       = "https://${var.hostname}"
}

output "values" {
  description = "The values handed to the chart (YAML), for review."
  value       = local.values
}
