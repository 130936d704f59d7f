variable "prefix" {
  type        = string
  description = "Parameter path prefix, e.g. /cryptoflow/prod (no trailing slash)."
  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+[^/]$", var.prefix))
    error_message = "prefix must start with / and must not end with /."
  }
}

variable "parameters" {
  type = map(object({
    value       = string
    description = string
  }))
  description = "Runtime overrides (String parameters) injected into tasks as environment variables, keyed by variable name, e.g. CF_SINK__S3__BUCKET. Values are config overrides in the libs/config env syntax."
  default     = {}
}

variable "secrets" {
  type = map(object({
    description = string
  }))
  description = "SecureString parameters created with a placeholder; the real value is set out of band (aws ssm put-parameter --overwrite) and never enters Terraform state."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for SecureString parameters; null uses the account's aws/ssm key."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
