variable "name_prefix" {
  type        = string
  description = "Prefix of the table names, e.g. cryptoflow-prod (tables <prefix>-ledger and <prefix>-fleet)."
}

variable "point_in_time_recovery" {
  type        = bool
  description = "Continuous backups of the ledger (the ledger is what makes commits exactly-once; keep it on in prod)."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse DeleteTable on both tables."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for table encryption; null uses the AWS-owned key."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
