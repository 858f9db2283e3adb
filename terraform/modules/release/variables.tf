variable "release_name" {
  type        = string
  description = "Helm release name; also the chart's fullname, so object and Secret names are predictable."
  default     = "bazaar"
}

variable "namespace" {
  type        = string
  description = "Namespace the release runs in; must be one the cluster secret store admits (addons module)."
  default     = "bazaar"
}

variable "chart_path" {
  type        = string
  description = "Path of the Bazaar chart, relative to the environment directory Terraform runs in."
  default     = "../../../charts/bazaar"
}

variable "environment" {
  type        = string
  description = "Environment name, reported to Sentry and used in secret names, e.g. production."
}

variable "image_repository" {
  type        = string
  description = "Container image repository of Bazaar, e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/bazaar."
}

variable "image_tag" {
  type        = string
  description = "Image tag to deploy; the release upgrades when it changes."
}

variable "hostname" {
  type        = string
  description = "Public DNS name of the shop; point it at the ingress load balancer."
}

variable "ingress_class_name" {
  type        = string
  description = "IngressClass that routes to the web pods (addons module)."
}

variable "ingress_namespace" {
  type        = string
  description = "Namespace of the ingress controller; the only source admitted to the web pods (addons module)."
}

variable "monitoring_namespace" {
  type        = string
  description = "Namespace of Prometheus; the only source admitted to the metrics ports (addons module)."
}

variable "cluster_issuer_name" {
  type        = string
  description = "cert-manager ClusterIssuer of the TLS certificate (addons module)."
}

variable "secret_store_name" {
  type        = string
  description = "External Secrets ClusterSecretStore the release's credentials are read through (addons module)."
}

variable "secret_name_prefix" {
  type        = string
  description = "Secrets Manager path of the environment's secrets, e.g. bazaar/production/; the Django secret key is created under it."
}

variable "extra_remote_keys" {
  type        = map(string)
  description = "More credentials for the app Secret: environment key => Secrets Manager secret name, e.g. {PAYMENT_PROVIDER_API_KEY = \"bazaar/production/payment-provider-api-key\"}. Create those secrets out of band, under secret_name_prefix."
  default     = {}
}

variable "database_host" {
  type        = string
  description = "Postgres address (database module)."
}

variable "database_port" {
  type        = number
  description = "Postgres port (database module)."
  default     = 5432
}

variable "database_name" {
  type        = string
  description = "Postgres database (database module)."
  default     = "bazaar"
}

variable "database_username" {
  type        = string
  description = "Postgres user (database module)."
  default     = "bazaar"
}

variable "database_password_secret_name" {
  type        = string
  description = "Secrets Manager secret holding the Postgres password (database module)."
}

variable "redis_host" {
  type        = string
  description = "Redis primary address (cache module)."
}

variable "redis_port" {
  type        = number
  description = "Redis port (cache module)."
  default     = 6379
}

variable "redis_auth_token_secret_name" {
  type        = string
  description = "Secrets Manager secret holding the Redis AUTH token (cache module)."
}

variable "datastore_cidrs" {
  type        = list(string)
  description = "CIDRs of the database subnets; the release's NetworkPolicy lets pods reach Postgres and Redis there only (network module)."
}

variable "web_min_replicas" {
  type        = number
  description = "Fewest web pods; at least two, spread over zones, so a node loss never empties the service."
  default     = 3

  validation {
    condition     = var.web_min_replicas >= 2
    error_message = "web_min_replicas must be at least 2 for a highly available release."
  }
}

variable "web_max_replicas" {
  type        = number
  description = "Most web pods the HPA may run."
  default     = 20
}

variable "worker_min_replicas" {
  type        = number
  description = "Fewest pods of the default and payments worker pools (KEDA scales on queue length above it)."
  default     = 2
}

variable "worker_max_replicas" {
  type        = number
  description = "Most pods of the default and payments worker pools."
  default     = 20
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every AWS resource."
  default     = {}
}
