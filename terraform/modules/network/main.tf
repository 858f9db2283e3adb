locals {
  # Private subnets hold the nodes and pods (VPC CNI gives every pod a VPC address), so they get
  # the largest blocks: /20 each from a /16. Public and database subnets only hold load balancers,
  # NAT gateways and managed data stores: /24 each.
  private_subnets  = [for index, _ in var.availability_zones : cidrsubnet(var.cidr_block, 4, index)]
  public_subnets   = [for index, _ in var.availability_zones : cidrsubnet(var.cidr_block, 8, 48 + index)]
  database_subnets = [for index, _ in var.availability_zones : cidrsubnet(var.cidr_block, 8, 64 + index)]
}

module "vpc" {
  #checkov:skip=CKV_TF_1:Pinned to an exact Terraform Registry release (immutable); a commit hash would bypass the registry.
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.19.0"

  name = var.name
  cidr = var.cidr_block
  azs  = var.availability_zones

  private_subnets  = local.private_subnets
  public_subnets   = local.public_subnets
  database_subnets = local.database_subnets

  # RDS and ElastiCache get their own subnet groups from these subnets; nothing routes to the
  # internet from them.
  create_database_subnet_group       = true
  create_database_subnet_route_table = true
  create_elasticache_subnet_group    = false

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  # The default security group allows all traffic between its members; nothing should use it.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = var.flow_log_retention_days
  flow_log_max_aggregation_interval               = 60

  # The AWS Load Balancer Controller places internet-facing load balancers in subnets tagged
  # elb and internal ones in subnets tagged internal-elb.
  public_subnet_tags = {
    "kubernetes.io/role/elb" = "1"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = "1"
  }

  tags = var.tags
}
