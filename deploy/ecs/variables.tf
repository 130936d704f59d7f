variable "env" {
  type        = string
  description = "Environment name (dev | prod): the CRYPTOFLOW_ENV of every task, the Env dimension of its metrics and the configs/<env> directory in the image."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of resource names, e.g. cryptoflow-prod."
}

variable "region" {
  type        = string
  description = "AWS region of the cluster (log configuration)."
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster name; the EC2 hosts of modules/ec2_multi_eni register into it."
}

variable "streams" {
  type = map(object({
    min_replicas = number
    max_replicas = number
    cpu          = number
    memory       = number
    health_port  = number
  }))
  description = "Collector stream => service sizing. Host networking: health_port must differ per stream (several streams share a host) and max_replicas must not exceed the host count (one task per host per stream)."
}

variable "image_repository_urls" {
  type        = map(string)
  description = "App => ECR repository URL (modules/ecr output repository_urls)."
}

variable "image_repository_arns" {
  type        = map(string)
  description = "App => ECR repository ARN, for the execution role's pull permission."
}

variable "image_tag" {
  type        = string
  description = "Image tag to run (the git SHA the images were built from)."
}

variable "writer_role_arn" {
  type        = string
  description = "Task role of collectors and the replayer (modules/iam_writer output writer_role_arn)."
}

variable "committer_role_arn" {
  type        = string
  description = "Task role of the committer (modules/iam_writer output committer_role_arn)."
}

variable "environment" {
  type        = map(string)
  description = "Config overrides every task gets as plain environment (libs/config syntax, e.g. CF_SINK__S3__BUCKET = \"...\")."
  default     = {}
}

variable "parameter_arns" {
  type        = map(string)
  description = "Environment variable => SSM parameter ARN, injected at task start (modules/ssm_params output parameter_arns): values operators change without Terraform."
  default     = {}
}

variable "fleet_table_name" {
  type        = string
  description = "DynamoDB fleet membership table: replicas of a stream find each other there (fleet.mode dynamic)."
}

variable "target_occupancy" {
  type        = number
  description = "Target-tracking value for the autoscaling metric (average over replicas of each replica's highest channel occupancy)."
  default     = 0.5
  validation {
    condition     = var.target_occupancy > 0 && var.target_occupancy < 1
    error_message = "target_occupancy must be between 0 and 1."
  }
}

variable "scale_in_cooldown_seconds" {
  type        = number
  description = "Seconds between scale-in steps: every step hands shards over (book resyncs), so scale in slowly."
  default     = 900
}

variable "scale_out_cooldown_seconds" {
  type        = number
  description = "Seconds between scale-out steps."
  default     = 120
}

variable "committer_replicas" {
  type        = number
  description = "Committer tasks; per-table leases make extra ones hot standbys."
  default     = 2
}

variable "committer_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the committer and replayer tasks (Fargate, awsvpc)."
}

variable "committer_security_group_ids" {
  type        = list(string)
  description = "Security groups of the committer and replayer tasks (egress 443 to AWS endpoints)."
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch Logs retention of the task logs (which also carry the EMF metrics)."
  default     = 30
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the SecureString parameters, if customer-managed; null otherwise."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
