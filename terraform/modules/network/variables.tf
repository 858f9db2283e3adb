variable "name" {
  type        = string
  description = "Name prefix of every network resource, e.g. bazaar-production."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; split into public, private and database subnets across the zones."
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR, e.g. 10.0.0.0/16."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones the subnets span, e.g. [\"eu-central-1a\", \"eu-central-1b\", \"eu-central-1c\"]. Named explicitly so a zone AWS adds later never moves a subnet; three keep a zone outage survivable."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "availability_zones must name between 2 and 6 zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway instead of one per zone: cheaper, but egress from private subnets stops when that zone fails. Fine for staging, not for production."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days VPC flow logs are kept in CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
