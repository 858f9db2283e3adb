module "eks" {
  #checkov:skip=CKV_TF_1:Pinned to an exact Terraform Registry release (immutable); a commit hash would bypass the registry.
  source  = "terraform-aws-modules/eks/aws"
  version = "20.33.1"

  cluster_name    = var.name
  cluster_version = var.kubernetes_version

  vpc_id                   = var.vpc_id
  subnet_ids               = var.private_subnet_ids
  control_plane_subnet_ids = var.private_subnet_ids

  # Terraform installs the add-ons and the release through the public endpoint, so it stays on,
  # limited to the operators' networks; nodes reach the API through the private endpoint.
  cluster_endpoint_public_access       = true
  cluster_endpoint_public_access_cidrs = var.api_allowed_cidrs
  cluster_endpoint_private_access      = true

  # Access entries only (no aws-auth ConfigMap); whoever applies becomes cluster admin so the
  # same apply can install the add-ons.
  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = true

  # Envelope encryption of Kubernetes Secrets with a module-managed, rotated KMS key.
  create_kms_key = true
  cluster_encryption_config = {
    resources = ["secrets"]
  }

  cluster_enabled_log_types              = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  cluster_addons = {
    # The CNI and the pod identity agent must run before nodes join, or pods start without
    # networking or credentials.
    vpc-cni = {
      before_compute = true
      most_recent    = true
    }
    eks-pod-identity-agent = {
      before_compute = true
      most_recent    = true
    }
    coredns = {
      most_recent = true
    }
    kube-proxy = {
      most_recent = true
    }
    # Persistent volumes for Prometheus and Alertmanager.
    aws-ebs-csi-driver = {
      most_recent = true
      pod_identity_association = [{
        role_arn        = module.ebs_csi_pod_identity.iam_role_arn
        service_account = "ebs-csi-controller-sa"
      }]
    }
  }

  eks_managed_node_group_defaults = {
    ami_type = "AL2023_x86_64_STANDARD"
    # IMDSv2 only, one hop: pods cannot borrow the node role; they get their own through
    # pod identity.
    metadata_options = {
      http_endpoint               = "enabled"
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
    }
  }

  eks_managed_node_groups = {
    for group_name, group in var.node_groups : group_name => {
      instance_types = group.instance_types
      capacity_type  = group.capacity_type
      min_size       = group.min_size
      max_size       = group.max_size
      desired_size   = group.desired_size
      labels         = group.labels
      block_device_mappings = {
        root = {
          device_name = "/dev/xvda"
          ebs = {
            volume_size = group.disk_size_gib
            volume_type = "gp3"
            encrypted   = true
          }
        }
      }
    }
  }

  tags = var.tags
}

# The node autoscaler's AWS identity. EKS tags every managed node group's Auto Scaling group for
# cluster-autoscaler auto-discovery, and the policy only lets it resize groups of this cluster.
# The addons module installs the autoscaler itself under this service account.
module "node_autoscaler_pod_identity" {
  #checkov:skip=CKV_TF_1:Pinned to an exact Terraform Registry release (immutable); a commit hash would bypass the registry.
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "1.10.0"

  name = "${var.name}-cluster-autoscaler"

  attach_cluster_autoscaler_policy = true
  cluster_autoscaler_cluster_names = [module.eks.cluster_name]

  associations = {
    cluster-autoscaler = {
      cluster_name    = module.eks.cluster_name
      namespace       = local.node_autoscaler_namespace
      service_account = local.node_autoscaler_service_account
    }
  }

  tags = var.tags
}

module "ebs_csi_pod_identity" {
  #checkov:skip=CKV_TF_1:Pinned to an exact Terraform Registry release (immutable); a commit hash would bypass the registry.
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "1.10.0"

  name = "${var.name}-ebs-csi"

  attach_aws_ebs_csi_policy = true

  tags = var.tags
}

locals {
  node_autoscaler_namespace       = "kube-system"
  node_autoscaler_service_account = "cluster-autoscaler"
}
