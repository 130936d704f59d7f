output "parameter_arns" {
  description = "Environment variable name => parameter ARN (for ECS `secrets` valueFrom)."
  value       = { for k, p in aws_ssm_parameter.param : k => p.arn }
}

output "secret_arns" {
  description = "Secret name => SecureString parameter ARN."
  value       = { for k, p in aws_ssm_parameter.secret : k => p.arn }
}

output "all_arns" {
  description = "Every parameter ARN this module manages (for IAM)."
  value       = concat([for p in aws_ssm_parameter.param : p.arn], [for p in aws_ssm_parameter.secret : p.arn])
}
