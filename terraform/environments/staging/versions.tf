terraform {
  required_version = ">= 1.10"

  # Partial configuration: bucket, key, region and locking come from backend.tfbackend at init
  # (terraform init -backend-config=backend.tfbackend), so no account detail is committed here.
  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.95"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}
