output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard name."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Every alarm this module created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.occupancy : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.seq_gaps : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.drops : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.commit_latency : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.rate_limited : a.alarm_name],
  )
}
