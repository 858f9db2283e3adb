variable "region" {
  type        = string
  description = "AWS region of the environment."
  default     = "eu-central-1"
}

variable "api_allowed_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the Kubernetes API: operators' and CI runners' egress addresses."
}

variable "hostname" {
  type        = string
  description = "Public DNS name of the shop, e.g. shop.example.com."
}

variable "acme_email" {
  type        = string
  description = "Contact address of the Let's Encrypt account."
}

variable "image_repository" {
  type        = string
  description = "Container image repository of Bazaar."
}

variable "image_tag" {
  type        = string
  description = "Image tag to deploy."
}

variable "extra_remote_keys" {
  type        = map(string)
  description = "More app credentials: environment key => Secrets Manager secret name under bazaar/<environment>/ (payment provider, Sentry, SMTP)."
  default     = {}
}
