output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server; the environments configure the helm provider with it."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_version" {
  description = "Kubernetes version the control plane runs."
  value       = module.eks.cluster_version
}

output "node_security_group_id" {
  description = "Security group of the nodes; pods on the VPC CNI share it, so data stores admit it."
  value       = module.eks.node_security_group_id
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider, for workloads that still need IRSA instead of pod identity."
  value       = module.eks.oidc_provider_arn
}

output "node_autoscaler_namespace" {
  description = "Namespace the node autoscaler must run in for its pod identity to apply."
  value       = local.node_autoscaler_namespace
}

output "node_autoscaler_service_account" {
  description = "Service account the node autoscaler must run as for its pod identity to apply."
  value       = local.node_autoscaler_service_account
}
