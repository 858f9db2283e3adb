provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Talks to the cluster this configuration creates. A short-lived token from `aws eks get-token`
# on every run, so no kubeconfig and no long-lived credential is involved.
provider "helm" {
  kubernetes {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.region]
    }
  }
}
