resource "aws_ssm_parameter" "param" {
  for_each = var.parameters

  name        = "${var.prefix}/${each.key}"
  description = each.value.description
  type        = "String"
  value       = each.value.value
  tags        = var.tags
}

resource "aws_ssm_parameter" "secret" {
  for_each = var.secrets

  name        = "${var.prefix}/secret/${each.key}"
  description = each.value.description
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = "unset"
  tags        = var.tags

  lifecycle {
    # The value is owned by whoever rotates it, not by Terraform.
    ignore_changes = [value]
  }
}
