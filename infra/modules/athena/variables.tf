variable "name_prefix" {
  type        = string
  description = "Prefix of the workgroup and results bucket, e.g. cryptoflow-prod."
}

variable "table_bucket_name" {
  type        = string
  description = "S3 Tables bucket name; Athena addresses it as catalog \"s3tablescatalog/<name>\"."
}

variable "namespace" {
  type        = string
  description = "Iceberg namespace of the tables (the Athena database)."
}

variable "results_expiration_days" {
  type        = number
  description = "Query results are deleted after this many days."
  default     = 30
}

variable "bytes_scanned_cutoff_per_query" {
  type        = number
  description = "Queries scanning more than this many bytes are cancelled (cost guard; 10 GiB default)."
  default     = 10737418240
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for query results; null uses SSE-S3."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
