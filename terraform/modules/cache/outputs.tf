output "primary_endpoint_address" {
  description = "DNS name of the primary; it follows a Multi-AZ failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Redis port (TLS only)."
  value       = local.port
}

output "auth_token_secret_name" {
  description = "Secrets Manager secret holding the AUTH token as a plain string (External Secrets remote key)."
  value       = aws_secretsmanager_secret.auth_token.name
}

output "auth_token_secret_arn" {
  description = "ARN of the auth token secret."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}

output "kms_key_arn" {
  description = "KMS key encrypting the data at rest, the auth token secret and the logs."
  value       = aws_kms_key.this.arn
}
