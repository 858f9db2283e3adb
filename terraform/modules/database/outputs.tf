output "address" {
  description = "DNS name of the primary; it follows a Multi-AZ failover."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Postgres port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "User the application connects as."
  value       = aws_db_instance.this.username
}

output "password_secret_name" {
  description = "Secrets Manager secret holding the password as a plain string (External Secrets remote key)."
  value       = aws_secretsmanager_secret.password.name
}

output "password_secret_arn" {
  description = "ARN of the password secret."
  value       = aws_secretsmanager_secret.password.arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.this.id
}

output "kms_key_arn" {
  description = "KMS key encrypting the storage, Performance Insights and the password secret."
  value       = aws_kms_key.this.arn
}
