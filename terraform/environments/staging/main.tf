locals {
  environment        = "staging"
  name               = "bazaar-${local.environment}"
  secret_name_prefix = "bazaar/${local.environment}/"
  namespace          = "bazaar"

  tags = {
    Project     = "bazaar"
    Environment = local.environment
    ManagedBy   = "terraform"
  }
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  cidr_block         = "10.30.0.0/16"
  availability_zones = ["${var.region}a", "${var.region}b", "${var.region}c"]
  # One shared NAT gateway: about $65 a month less, and staging may lose egress with its zone.
  single_nat_gateway = true
}

module "cluster" {
  source = "../../modules/cluster"

  name               = local.name
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  api_allowed_cidrs  = var.api_allowed_cidrs

  node_groups = {
    general = {
      instance_types = ["m7i.large", "m6i.large"]
      capacity_type  = "SPOT"
      min_size       = 2
      max_size       = 6
      desired_size   = 2
    }
  }
}

module "database" {
  source = "../../modules/database"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  db_subnet_group_name      = module.network.database_subnet_group_name
  client_security_group_ids = [module.cluster.node_security_group_id]
  secret_name_prefix        = local.secret_name_prefix

  # Smaller, but Multi-AZ like production: staging is where failover and upgrades are rehearsed.
  instance_class        = "db.t4g.medium"
  backup_retention_days = 7
}

module "cache" {
  source = "../../modules/cache"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.database_subnet_ids
  client_security_group_ids = [module.cluster.node_security_group_id]
  secret_name_prefix        = local.secret_name_prefix

  node_type     = "cache.t4g.small"
  replica_count = 1
}

module "addons" {
  source = "../../modules/addons"

  cluster_name                    = module.cluster.cluster_name
  region                          = var.region
  vpc_id                          = module.network.vpc_id
  node_autoscaler_namespace       = module.cluster.node_autoscaler_namespace
  node_autoscaler_service_account = module.cluster.node_autoscaler_service_account
  secret_name_prefix              = local.secret_name_prefix
  secret_store_namespaces         = [local.namespace]
  acme_email                      = var.acme_email
}

module "release" {
  source = "../../modules/release"

  namespace        = local.namespace
  environment      = local.environment
  image_repository = var.image_repository
  image_tag        = var.image_tag
  hostname         = var.hostname

  ingress_class_name   = module.addons.ingress_class_name
  ingress_namespace    = module.addons.ingress_namespace
  monitoring_namespace = module.addons.monitoring_namespace
  cluster_issuer_name  = module.addons.cluster_issuer_name
  secret_store_name    = module.addons.secret_store_name
  secret_name_prefix   = local.secret_name_prefix
  extra_remote_keys    = var.extra_remote_keys

  database_host                 = module.database.address
  database_port                 = module.database.port
  database_name                 = module.database.database_name
  database_username             = module.database.username
  database_password_secret_name = module.database.password_secret_name
  redis_host                    = module.cache.primary_endpoint_address
  redis_port                    = module.cache.port
  redis_auth_token_secret_name  = module.cache.auth_token_secret_name
  datastore_cidrs               = module.network.database_subnet_cidr_blocks

  web_min_replicas    = 2
  web_max_replicas    = 6
  worker_min_replicas = 1
  worker_max_replicas = 4

  # KEDA's CRDs, the secret store and the issuer must exist before the chart's objects.
  depends_on = [module.addons]
}
