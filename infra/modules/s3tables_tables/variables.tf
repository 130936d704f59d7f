variable "table_bucket_arn" {
  type        = string
  description = "ARN of the S3 Tables table bucket that holds the namespace (output table_bucket_arn of modules/s3tables_bucket)."
}

variable "namespace" {
  type        = string
  description = "Iceberg namespace for every CryptoFlow table (config sink.catalog.namespace), single level, lower case."
  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.namespace))
    error_message = "namespace must be lower-case letters, digits and underscores."
  }
}

variable "compaction_target_file_size_mb" {
  type        = number
  description = "Target size of files written by S3 Tables compaction (64-512 MB)."
  default     = 512
  validation {
    condition     = var.compaction_target_file_size_mb >= 64 && var.compaction_target_file_size_mb <= 512
    error_message = "compaction_target_file_size_mb must be between 64 and 512."
  }
}

variable "snapshot_max_age_hours" {
  type        = number
  description = "Snapshots older than this are expired by S3 Tables (time travel window). Replays that look back further need a backfill instead."
  default     = 120
}

variable "snapshot_min_to_keep" {
  type        = number
  description = "Snapshots always kept regardless of age."
  default     = 1
}
