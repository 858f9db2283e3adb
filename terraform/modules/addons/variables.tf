variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster the add-ons run in (cluster module)."
}

variable "region" {
  type        = string
  description = "AWS region of the cluster; the load balancer controller and External Secrets call its APIs."
}

variable "vpc_id" {
  type        = string
  description = "ID of the cluster's VPC; the load balancer controller places targets in it."
}

variable "node_autoscaler_namespace" {
  type        = string
  description = "Namespace the cluster autoscaler runs in; must match its pod identity (cluster module)."
}

variable "node_autoscaler_service_account" {
  type        = string
  description = "Service account the cluster autoscaler runs as; must match its pod identity (cluster module)."
}

variable "secret_name_prefix" {
  type        = string
  description = "Secrets Manager path External Secrets may read, e.g. bazaar/production/. Nothing outside it is readable from the cluster."
}

variable "secret_store_namespaces" {
  type        = list(string)
  description = "Namespaces whose ExternalSecrets may use the cluster secret store."
  default     = ["bazaar"]
}

variable "acme_email" {
  type        = string
  description = "Contact address of the Let's Encrypt account cert-manager registers (expiry warnings go there)."
}

variable "acme_server" {
  type        = string
  description = "ACME directory URL; the Let's Encrypt staging directory avoids rate limits while testing."
  default     = "https://acme-v02.api.letsencrypt.org/directory"
}

variable "prometheus_retention" {
  type        = string
  description = "How long Prometheus keeps samples, e.g. 15d."
  default     = "15d"
}

variable "prometheus_storage_size" {
  type        = string
  description = "Size of each Prometheus replica's persistent volume."
  default     = "50Gi"
}

variable "prometheus_replicas" {
  type        = number
  description = "Prometheus replicas; two keep alerting alive through a node drain."
  default     = 2
}

variable "chart_versions" {
  type = object({
    aws_load_balancer_controller = optional(string, "1.13.2")
    cert_manager                 = optional(string, "v1.17.2")
    cluster_autoscaler           = optional(string, "9.46.6")
    external_secrets             = optional(string, "0.16.2")
    keda                         = optional(string, "2.17.0")
    kube_prometheus_stack        = optional(string, "70.4.2")
    traefik                      = optional(string, "35.4.0")
  })
  description = "Pinned Helm chart version of every add-on; upgrade one at a time, staging first."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every AWS resource."
  default     = {}
}
