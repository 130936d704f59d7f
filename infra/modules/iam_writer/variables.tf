variable "name_prefix" {
  type        = string
  description = "Prefix of the role names, e.g. cryptoflow-prod."
}

variable "trusted_service" {
  type        = string
  description = "Service principal allowed to assume the roles (ECS tasks by default)."
  default     = "ecs-tasks.amazonaws.com"
}

variable "data_bucket_arn" {
  type        = string
  description = "Landing bucket ARN where collectors upload Parquet files (modules/s3tables_bucket output data_bucket_arn)."
}

variable "data_prefix" {
  type        = string
  description = "Key prefix under which collectors write (config sink.s3.prefix), e.g. \"lake/\". Empty grants the whole bucket."
  default     = ""
}

variable "table_bucket_arn" {
  type        = string
  description = "S3 Tables table bucket ARN (the Iceberg warehouse)."
}

variable "table_arns" {
  type        = map(string)
  description = "Table name => table ARN (modules/s3tables_tables output table_arns); the committer may update exactly these."
}

variable "ledger_table_arn" {
  type        = string
  description = "DynamoDB file ledger table ARN (modules/ddb_idem output ledger_table_arn)."
}

variable "fleet_table_arn" {
  type        = string
  description = "DynamoDB fleet membership table ARN (modules/ddb_idem output fleet_table_arn)."
}

variable "ssm_parameter_arns" {
  type        = list(string)
  description = "SSM parameter ARNs the tasks read at start (runtime overrides and secret references)."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the buckets, tables and parameters; null when S3/AWS-managed keys are used."
  default     = null
}

variable "collectors_commit_inline" {
  type        = bool
  description = "True when collectors commit to Iceberg themselves (sink.commit: inline); they then also get the committer's S3 Tables permissions."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
