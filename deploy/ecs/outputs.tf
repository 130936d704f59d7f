output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "collector_services" {
  description = "App => ECS service name."
  value       = { for app, s in aws_ecs_service.collector : app => s.name }
}

output "committer_service" {
  description = "Committer ECS service name."
  value       = aws_ecs_service.committer.name
}

output "replayer_task_definition" {
  description = "Replayer task definition family (aws ecs run-task --task-definition)."
  value       = aws_ecs_task_definition.replayer.family
}

output "execution_role_arn" {
  description = "Task execution role (image pull, logs, parameter injection)."
  value       = aws_iam_role.execution.arn
}

output "stop_timeout_seconds" {
  description = "Seconds a task has between SIGTERM and SIGKILL to drain and flush (ECS maximum)."
  value       = local.stop_timeout_seconds
}
