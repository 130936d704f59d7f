output "writer_role_arn" {
  description = "Task role for collectors and the replayer."
  value       = aws_iam_role.writer.arn
}

output "committer_role_arn" {
  description = "Task role for the committer."
  value       = aws_iam_role.committer.arn
}

output "writer_policy_json" {
  description = "The writer's inline policy, for review."
  value       = data.aws_iam_policy_document.writer.json
}

output "committer_policy_json" {
  description = "The committer's inline policy, for review."
  value       = data.aws_iam_policy_document.committer.json
}
