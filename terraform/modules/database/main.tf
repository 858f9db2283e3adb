data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# One customer-managed key for the storage, Performance Insights, the password secret and the
# exported logs, so access to all of them is governed (and audited) in one key policy.
resource "aws_kms_key" "this" {
  description             = "Bazaar database ${var.name}: storage, Performance Insights, credentials, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-database"
  target_key_id = aws_kms_key.this.key_id
}

# The account's default key policy (IAM policies decide who may use the key, so the External
# Secrets role can decrypt through Secrets Manager without this module knowing about it), plus
# CloudWatch Logs for this instance's log groups.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's only resource is the key itself; "*" is the required spelling.
  #checkov:skip=CKV_AWS_111:A key policy's only resource is the key itself; "*" is the required spelling.
  #checkov:skip=CKV_AWS_356:A key policy's only resource is the key itself; "*" is the required spelling.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/rds/instance/${var.name}/*"]
    }
  }
}

# Alphanumeric only, so the password goes into a connection URL without escaping.
resource "random_password" "master" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "password" {
  #checkov:skip=CKV2_AWS_57:Rotation replaces the password under running pods; rotate by replacing random_password.master and rolling the release (terraform/README.md).
  name                    = "${var.secret_name_prefix}database-password"
  description             = "Password of the ${var.username} user on ${var.name}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "password" {
  secret_id     = aws_secretsmanager_secret.password.id
  secret_string = random_password.master.result
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-database-"
  description = "Postgres ${var.name}: admits the EKS nodes and pods only"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = toset(var.client_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "Postgres from the cluster"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-"
  family      = "postgres${split(".", var.engine_version)[0]}"
  description = "Bazaar settings for ${var.name}"
  tags        = var.tags

  # Clients must use TLS; the chart connects with sslmode=require.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name         = "max_connections"
    value        = tostring(var.max_connections)
    apply_method = "pending-reboot"
  }

  # Slow statements and lock waits are what an operator needs from the log; logging every
  # statement would cost more than the database on a busy shop.
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  # A transaction left open by a crashed worker must not hold locks until the next deploy.
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "monitoring" {
  name_prefix        = "${substr(var.name, 0, 24)}-rds-mon-"
  description        = "Enhanced Monitoring of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.monitoring_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "monitoring_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_cloudwatch_log_group" "postgres" {
  for_each = toset(local.exported_logs)

  # RDS writes to this exact name; creating it first lets Terraform own retention and encryption.
  name              = "/aws/rds/instance/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name  = var.database_name
  username = var.username
  password = random_password.master.result
  port     = local.port

  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  # A synchronous standby in another zone; failover keeps the same address.
  multi_az               = true
  db_subnet_group_name   = var.db_subnet_group_name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  # Minor versions carry security fixes; major upgrades are a deliberate change of engine_version.
  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = local.exported_logs

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 30
  monitoring_role_arn                   = aws_iam_role.monitoring.arn

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.postgres]
}

locals {
  port          = 5432
  exported_logs = ["postgresql", "upgrade"]
}
