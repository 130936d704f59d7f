output "repository_urls" {
  description = "App => repository URL (push <url>:<git sha>)."
  value       = { for app, r in aws_ecr_repository.app : app => r.repository_url }
}

output "repository_arns" {
  description = "App => repository ARN."
  value       = { for app, r in aws_ecr_repository.app : app => r.arn }
}
