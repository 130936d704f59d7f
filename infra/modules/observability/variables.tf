variable "name_prefix" {
  type        = string
  description = "Prefix of alarm and dashboard names, e.g. cryptoflow-prod."
}

variable "env" {
  type        = string
  description = "Value of the Env dimension the processes publish (CRYPTOFLOW_ENV)."
}

variable "region" {
  type        = string
  description = "Region shown by the dashboard widgets."
}

variable "streams" {
  type        = list(string)
  description = "Collector streams (ticks, spot-ob, ...): one set of per-stream alarms and widgets each."
}

variable "tables" {
  type        = list(string)
  description = "Iceberg tables the committer appends to: one commit-latency alarm each."
}

variable "egress_private_ips" {
  type        = list(string)
  description = "Private source addresses of the egress pools: one rate-limit alarm each (the Ip dimension)."
  default     = []
}

variable "occupancy_alarm_threshold" {
  type        = number
  description = "Alarm when a stream's highest channel occupancy stays above this for occupancy_alarm_minutes (autoscaling should have acted well before)."
  default     = 0.9
}

variable "occupancy_alarm_minutes" {
  type        = number
  description = "Minutes above the occupancy threshold before alarming."
  default     = 5
}

variable "seq_gaps_per_5m_threshold" {
  type        = number
  description = "Book sequence gaps per 5 minutes per stream above which to alarm (a few per day are normal venue hiccups)."
  default     = 10
}

variable "commit_latency_p99_seconds" {
  type        = number
  description = "Alarm when the p99 Iceberg commit latency of a table exceeds this over 15 minutes."
  default     = 60
}

variable "alarm_emails" {
  type        = list(string)
  description = "Addresses subscribed to the alarm topic (each must confirm the subscription)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
