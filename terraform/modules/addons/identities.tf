# AWS identities of the add-ons, through EKS Pod Identity: each is bound to one service account
# in one namespace, so no other pod can use it.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  external_secrets_namespace       = "external-secrets"
  external_secrets_service_account = "external-secrets"
  load_balancer_namespace          = "kube-system"
  load_balancer_service_account    = "aws-load-balancer-controller"
  secret_arn_prefix                = "arn:${data.aws_partition.current.partition}:secretsmanager:${var.region}:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}"
}

module "load_balancer_controller_pod_identity" {
  #checkov:skip=CKV_TF_1:Pinned to an exact Terraform Registry release (immutable); a commit hash would bypass the registry.
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "1.10.0"

  name = "${var.cluster_name}-aws-lb-controller"

  attach_aws_lb_controller_policy = true

  associations = {
    controller = {
      cluster_name    = var.cluster_name
      namespace       = local.load_balancer_namespace
      service_account = local.load_balancer_service_account
    }
  }

  tags = var.tags
}

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "external_secrets" {
  name_prefix        = "${substr(var.cluster_name, 0, 20)}-ext-secrets-"
  description        = "External Secrets in ${var.cluster_name}: reads ${var.secret_name_prefix}*"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust.json
  tags               = var.tags
}

# Read-only, and only under the environment's prefix. Decryption is allowed for any key but only
# through Secrets Manager and only for secrets under that prefix, so the modules that own the
# secrets keep their own keys without this policy listing them.
data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid       = "ReadEnvironmentSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["${local.secret_arn_prefix}*"]
  }

  statement {
    #checkov:skip=CKV_AWS_356:The key is unknown here; the ViaService and SecretARN conditions limit decryption to this environment's secrets.
    sid       = "DecryptThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:SecretARN"
      values   = ["${local.secret_arn_prefix}*"]
    }
  }
}

resource "aws_iam_role_policy" "external_secrets" {
  name   = "read-environment-secrets"
  role   = aws_iam_role.external_secrets.id
  policy = data.aws_iam_policy_document.external_secrets.json
}

resource "aws_eks_pod_identity_association" "external_secrets" {
  cluster_name    = var.cluster_name
  namespace       = local.external_secrets_namespace
  service_account = local.external_secrets_service_account
  role_arn        = aws_iam_role.external_secrets.arn
  tags            = var.tags
}
