variable "name" {
  type        = string
  description = "Table bucket name (3-63 lower-case letters, digits, hyphens), e.g. cryptoflow-prod. The landing bucket for Parquet data files is <name>-data-<account id>."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit."
  }
}

variable "unreferenced_days" {
  type        = number
  description = "Days after which S3 Tables marks files no snapshot references as noncurrent (unreferenced file removal)."
  default     = 3
}

variable "noncurrent_days" {
  type        = number
  description = "Days after which S3 Tables deletes noncurrent files."
  default     = 10
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the table bucket and the landing bucket; null uses S3-managed keys (SSE-S3)."
  default     = null
}

variable "reader_principal_arns" {
  type        = list(string)
  description = "IAM role ARNs (analysts, Athena users) granted read access to every table in the bucket through the table bucket policy."
  default     = []
}

variable "data_expiration_days" {
  type        = number
  description = "Expire landing-bucket Parquet objects after this many days; null keeps them forever. Only set this once compaction has rewritten the files into the table bucket and the replay window has passed (docs/operations/replay-backfill.md)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
