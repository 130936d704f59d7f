variable "env" {
  type        = string
  description = "Environment name; also the configs/<env> directory baked into the images."
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be dev or prod."
  }
}

variable "region" {
  type        = string
  description = "AWS region of the whole stack."
}

variable "vpc_id" {
  type        = string
  description = "VPC holding the hosts and tasks."
}

variable "host_subnet_id" {
  type        = string
  description = "Public subnet of the collector hosts and their egress ENIs (EIPs need an internet gateway route)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets (NAT or VPC endpoints) of the committer and replayer tasks."
}

variable "monitoring_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to scrape the collectors' /metrics and probe /live, /ready (ports 9100-9108 on the hosts)."
  default     = []
}

variable "namespace" {
  type        = string
  description = "Iceberg namespace of the tables."
  default     = "market_data"
}

variable "image_tag" {
  type        = string
  description = "Image tag (git SHA) every service runs."
}

variable "streams" {
  type = map(object({
    min_replicas = number
    max_replicas = number
    cpu          = number
    memory       = number
    health_port  = number
  }))
  description = "Collector stream => ECS service sizing (see deploy/ecs)."
}

variable "host_count" {
  type        = number
  description = "Collector hosts; at least the largest max_replicas + 1 (spare for rolling deployments)."
}

variable "enis_per_host" {
  type        = number
  description = "Egress ENIs per host besides the primary one."
}

variable "secondary_ips_per_eni" {
  type        = number
  description = "Secondary private IPs per egress ENI."
}

variable "host_instance_type" {
  type        = string
  description = "Collector host instance type."
}

variable "committer_replicas" {
  type        = number
  description = "Committer tasks (one active per table, the rest standby)."
}

variable "target_occupancy" {
  type        = number
  description = "Autoscaling target for the channel occupancy metric."
  default     = 0.5
}

variable "alarm_emails" {
  type        = list(string)
  description = "Addresses receiving alarm notifications."
  default     = []
}

variable "reader_principal_arns" {
  type        = list(string)
  description = "Roles allowed to read the tables (analysts, Athena)."
  default     = []
}

variable "runtime_parameters" {
  type = map(object({
    value       = string
    description = string
  }))
  description = "Operator-tunable config overrides stored in SSM and injected into every task as environment (e.g. CF_EXCHANGES__BINANCE__SYMBOLS)."
  default     = {}
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the DynamoDB tables from deletion."
  default     = true
}
