variable "name" {
  type        = string
  description = "Identifier of the RDS instance and prefix of its companions, e.g. bazaar-production."
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the database security group lives in (network module)."
}

variable "db_subnet_group_name" {
  type        = string
  description = "RDS subnet group over the isolated database subnets (network module)."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect on the Postgres port: the EKS nodes, whose pods share their group."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version; minor versions are applied in the maintenance window."
  default     = "17"
}

variable "instance_class" {
  type        = string
  description = "RDS instance class. Graviton (m7g/r7g) is cheaper per vCPU than the Intel classes."
  default     = "db.m7g.large"
}

variable "allocated_storage_gib" {
  type        = number
  description = "Initial gp3 storage in GiB."
  default     = 50
}

variable "max_allocated_storage_gib" {
  type        = number
  description = "Ceiling for storage autoscaling in GiB."
  default     = 500
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery."
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance until this is turned off in a separate apply."
  default     = true
}

variable "max_connections" {
  type        = number
  description = "Postgres max_connections. PgBouncer in front keeps the server connection count near its pool size, not the pod count."
  default     = 400
}

variable "database_name" {
  type        = string
  description = "Database created on the instance."
  default     = "bazaar"
}

variable "username" {
  type        = string
  description = "Master user name; the application connects as it."
  default     = "bazaar"
}

variable "secret_name_prefix" {
  type        = string
  description = "Secrets Manager path the password secret is created under, e.g. bazaar/production/. External Secrets may read everything under it."
}

variable "log_retention_days" {
  type        = number
  description = "Days the Postgres logs exported to CloudWatch are kept."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
