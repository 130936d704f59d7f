variable "name_prefix" {
  type        = string
  description = "Repository name prefix, e.g. cryptoflow (repositories <prefix>/<app>)."
}

variable "apps" {
  type        = list(string)
  description = "Apps that get a repository (every workspace under apps/)."
}

variable "keep_images" {
  type        = number
  description = "Tagged images kept per repository; older ones are expired (untagged ones after a day)."
  default     = 50
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for image encryption; null uses AES256."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
