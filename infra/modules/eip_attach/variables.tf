variable "name_prefix" {
  type        = string
  description = "Prefix of the EIP Name tags."
}

variable "egress_ips" {
  type = map(object({
    eni_id     = string
    private_ip = string
  }))
  description = "Static key => ENI and private address to give a public address (modules/ec2_multi_eni output egress_ips)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
