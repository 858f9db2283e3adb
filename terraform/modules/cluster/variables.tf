variable "name" {
  type        = string
  description = "EKS cluster name, e.g. bazaar-production."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and the managed node groups."
  default     = "1.33"
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the cluster runs in (network module)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control plane ENIs and the nodes, one per zone (network module)."
}

variable "api_allowed_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public Kubernetes API endpoint: the operators' and CI runners' egress addresses. Nodes always use the private endpoint."

  validation {
    condition     = length(var.api_allowed_cidrs) > 0 && !contains(var.api_allowed_cidrs, "0.0.0.0/0")
    error_message = "api_allowed_cidrs must list the operators' networks; 0.0.0.0/0 opens the API server to the internet."
  }
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
    labels         = optional(map(string), {})
  }))
  description = "EKS managed node groups by name. The node autoscaler moves each between min_size and max_size; desired_size only seeds the first apply."
  default = {
    general = {
      instance_types = ["m7i.large", "m6i.large"]
      min_size       = 3
      max_size       = 10
      desired_size   = 3
    }
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days the control plane logs (api, audit, authenticator) are kept in CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
