output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC; security groups of the data stores admit it."
  value       = module.vpc.vpc_cidr_block
}

output "azs" {
  description = "Availability zones the subnets span."
  value       = var.availability_zones
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (EKS nodes and pods)."
  value       = module.vpc.private_subnets
}

output "private_subnet_cidr_blocks" {
  description = "CIDRs of the private subnets: where pods connect from."
  value       = module.vpc.private_subnets_cidr_blocks
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (internet-facing load balancers, NAT gateways)."
  value       = module.vpc.public_subnets
}

output "database_subnet_ids" {
  description = "IDs of the isolated database subnets (RDS and ElastiCache)."
  value       = module.vpc.database_subnets
}

output "database_subnet_group_name" {
  description = "Name of the RDS subnet group over the database subnets."
  value       = module.vpc.database_subnet_group_name
}

output "database_subnet_cidr_blocks" {
  description = "CIDRs of the database subnets: where the pods' egress to Postgres and Redis goes."
  value       = module.vpc.database_subnets_cidr_blocks
}
