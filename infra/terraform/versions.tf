terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State: configure a remote backend per environment before the first shared apply,
  # e.g. `terraform init -backend-config=backend-<env>.hcl` with
  #
  #   backend "s3" {}
  #
  # Local state is fine for a throw-away plan.
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "oxuniverse"
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
