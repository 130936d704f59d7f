variable "name_prefix" {
  type        = string
  description = "Prefix of resource names, e.g. cryptoflow-prod."
}

variable "ecs_cluster_name" {
  type        = string
  description = "ECS cluster the hosts join (written to /etc/ecs/ecs.config)."
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the hosts and their egress ENIs (public subnet when EIPs are attached; ENIs of one instance must share its AZ)."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the hosts and egress ENIs (egress 443 to the venues and AWS endpoints; ingress 9100-9108 from the monitoring CIDR only)."
}

variable "host_count" {
  type        = number
  description = "EC2 hosts in the ECS cluster. Each collector service runs at most one task per host (host networking), so this bounds every service's max replicas; keep one spare host for rolling deployments."
  validation {
    condition     = var.host_count >= 1
    error_message = "host_count must be at least 1."
  }
}

variable "enis_per_host" {
  type        = number
  description = "Egress ENIs attached to each host besides its primary one (the instance type bounds ENIs per instance)."
  default     = 1
  validation {
    condition     = var.enis_per_host >= 0 && var.enis_per_host <= 14
    error_message = "enis_per_host must be between 0 and 14."
  }
}

variable "secondary_ips_per_eni" {
  type        = number
  description = "Secondary private IPs on each egress ENI; each ENI then carries 1 + this many source addresses (the instance type bounds IPs per ENI)."
  default     = 4
  validation {
    condition     = var.secondary_ips_per_eni >= 0 && var.secondary_ips_per_eni <= 49
    error_message = "secondary_ips_per_eni must be between 0 and 49."
  }
}

variable "instance_type" {
  type        = string
  description = "Host instance type; must support 1 + enis_per_host ENIs with 1 + secondary_ips_per_eni IPs each (c6in.xlarge: 4 ENIs x 15 IPs)."
  default     = "c6in.xlarge"
}

variable "ami_ssm_parameter" {
  type        = string
  description = "SSM parameter holding the ECS-optimized AMI id."
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

variable "root_volume_gb" {
  type        = number
  description = "Root volume size: images, logs and the collectors' spill directories."
  default     = 100
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
