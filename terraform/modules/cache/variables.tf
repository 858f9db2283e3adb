variable "name" {
  type        = string
  description = "Replication group ID and prefix of its companions, e.g. bazaar-production (at most 40 characters)."

  validation {
    condition     = length(var.name) <= 40
    error_message = "ElastiCache replication group IDs are at most 40 characters."
  }
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the cache security group lives in (network module)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated database subnets, one per zone, for the cache nodes (network module)."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect on the Redis port: the EKS nodes, whose pods share their group."
}

variable "engine_version" {
  type        = string
  description = "Redis OSS engine version."
  default     = "7.1"
}

variable "node_type" {
  type        = string
  description = "ElastiCache node type of the primary and each replica."
  default     = "cache.m7g.large"
}

variable "replica_count" {
  type        = number
  description = "Read replicas beside the primary; at least one, in another zone, for Multi-AZ failover."
  default     = 1

  validation {
    condition     = var.replica_count >= 1 && var.replica_count <= 5
    error_message = "replica_count must be between 1 and 5: Multi-AZ failover needs a replica."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots kept. The cache is rebuildable, but queued Celery tasks live here too."
  default     = 7
}

variable "secret_name_prefix" {
  type        = string
  description = "Secrets Manager path the auth token secret is created under, e.g. bazaar/production/."
}

variable "log_retention_days" {
  type        = number
  description = "Days the slow log and engine log are kept in CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
