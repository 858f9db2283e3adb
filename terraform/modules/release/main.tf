data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Encrypts the release's own credentials: the Django secret key here, and the ones operators add
# under secret_name_prefix for extra_remote_keys (payment provider, Sentry, SMTP).
resource "aws_kms_key" "this" {
  description             = "Bazaar release ${var.environment}: application credentials"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/bazaar-${var.environment}-app"
  target_key_id = aws_kms_key.this.key_id
}

# The account's default key policy: IAM policies decide who may use the key.
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
}

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "secret_key" {
  #checkov:skip=CKV2_AWS_57:Django signs sessions and tokens with it; rotating would log every user out. Rotate deliberately by replacing random_password.secret_key.
  name                    = "${var.secret_name_prefix}secret-key"
  description             = "Django SECRET_KEY of Bazaar ${var.environment}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "secret_key" {
  secret_id     = aws_secretsmanager_secret.secret_key.id
  secret_string = random_password.secret_key.result
}

locals {
  # The chart's ExternalSecret fills one Secret, <fullname>-app, before the migrate hook runs.
  # The datastore passwords travel in it too, so the chart reads them from that same Secret and
  # nothing else has to exist before the first install.
  app_secret_name = "${var.release_name}-app"

  # Kept apart from the templatefile() call so tests/terraform can evaluate it with the defaults.
  values_template_vars = {
    release_name         = var.release_name
    environment          = var.environment
    image_repository     = var.image_repository
    image_tag            = var.image_tag
    hostname             = var.hostname
    ingress_class_name   = var.ingress_class_name
    ingress_namespace    = var.ingress_namespace
    monitoring_namespace = var.monitoring_namespace
    cluster_issuer_name  = var.cluster_issuer_name
    secret_store_name    = var.secret_store_name
    app_secret_name      = local.app_secret_name
    remote_keys = merge(var.extra_remote_keys, {
      SECRET_KEY        = aws_secretsmanager_secret.secret_key.name
      DATABASE_PASSWORD = var.database_password_secret_name
      REDIS_PASSWORD    = var.redis_auth_token_secret_name
    })
    database_host       = var.database_host
    database_port       = var.database_port
    database_name       = var.database_name
    database_username   = var.database_username
    redis_host          = var.redis_host
    redis_port          = var.redis_port
    datastore_cidrs     = var.datastore_cidrs
    web_min_replicas    = var.web_min_replicas
    web_max_replicas    = var.web_max_replicas
    worker_min_replicas = var.worker_min_replicas
    worker_max_replicas = var.worker_max_replicas
  }

  values = templatefile("${path.module}/values.yaml.tftpl", local.values_template_vars)
}

resource "helm_release" "bazaar" {
  name             = var.release_name
  chart            = var.chart_path
  namespace        = var.namespace
  create_namespace = true

  values = [local.values]

  # The migrate hook may run for up to the chart's migrations.timeoutSeconds; a failed upgrade
  # rolls back so the previous version keeps serving.
  timeout         = 1200
  atomic          = true
  cleanup_on_fail = true
  max_history     = 10

  depends_on = [aws_secretsmanager_secret_version.secret_key]
}
