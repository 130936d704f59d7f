# Alarms and a dashboard over the metrics in deploy/metrics-contract.json (namespace CryptoFlow). The names
# below are checked against that file by test/infra; add a metric there first, then use it here.

locals {
  namespace     = "CryptoFlow"
  stream_alarms = toset(var.streams)
}

resource "aws_sns_topic" "alarms" {
  name = "${var.name_prefix}-alarms"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "occupancy" {
  for_each = local.stream_alarms

  alarm_name          = "${var.name_prefix}-${each.key}-channel-occupancy"
  alarm_description   = "Channels of ${each.key} stay above ${var.occupancy_alarm_threshold * 100}% full: the stream cannot keep up and autoscaling has not fixed it (max replicas? hosts?). See docs/operations/scale.md."
  namespace           = local.namespace
  metric_name         = "ChannelOccupancyMax"
  dimensions          = { Env = var.env, Stream = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.occupancy_alarm_minutes
  datapoints_to_alarm = var.occupancy_alarm_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.occupancy_alarm_threshold
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "seq_gaps" {
  for_each = local.stream_alarms

  alarm_name          = "${var.name_prefix}-${each.key}-seq-gaps"
  alarm_description   = "More than ${var.seq_gaps_per_5m_threshold} book sequence gaps in 5 minutes on ${each.key}: each gap is a resync with a data hole until the new snapshot. Check venue status and channel drops."
  namespace           = local.namespace
  metric_name         = "SeqGaps"
  dimensions          = { Env = var.env, Stream = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.seq_gaps_per_5m_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "drops" {
  for_each = local.stream_alarms

  alarm_name          = "${var.name_prefix}-${each.key}-channel-drops"
  alarm_description   = "${each.key} dropped rows under backpressure (drop-oldest/sample policy): data was lost. See docs/operations/scale.md."
  namespace           = local.namespace
  metric_name         = "ChannelDropped"
  dimensions          = { Env = var.env, Stream = each.key }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "commit_latency" {
  for_each = toset(var.tables)

  alarm_name          = "${var.name_prefix}-${each.key}-commit-latency"
  alarm_description   = "p99 Iceberg commit latency of ${each.key} above ${var.commit_latency_p99_seconds}s: conflicts with compaction or a stuck commit. See docs/operations/recover-stuck-commit.md."
  namespace           = local.namespace
  metric_name         = "CommitLatency"
  dimensions          = { Env = var.env, Table = each.key }
  extended_statistic  = "p99"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.commit_latency_p99_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rate_limited" {
  for_each = toset(var.egress_private_ips)

  alarm_name          = "${var.name_prefix}-ip-${replace(each.key, ".", "-")}-rate-limited"
  alarm_description   = "Source address ${each.key} got 429/418 answers: the pool rotated away from it; repeated 429s earn an IP ban. See docs/operations/rotate-ips.md."
  namespace           = local.namespace
  metric_name         = "RateLimited"
  dimensions          = { Env = var.env, Ip = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

locals {
  search = {
    occupancy = "SEARCH('{${local.namespace},Env,Stream} MetricName=\"ChannelOccupancyMax\" Env=\"${var.env}\"', 'Maximum', 60)"
    gaps      = "SEARCH('{${local.namespace},Env,Stream} MetricName=\"SeqGaps\" Env=\"${var.env}\"', 'Sum', 300)"
    drops     = "SEARCH('{${local.namespace},Env,Stream} MetricName=\"ChannelDropped\" Env=\"${var.env}\"', 'Sum', 60)"
    commit    = "SEARCH('{${local.namespace},Env,Table} MetricName=\"CommitLatency\" Env=\"${var.env}\"', 'p99', 300)"
    limited   = "SEARCH('{${local.namespace},Env,Ip} MetricName=\"RateLimited\" Env=\"${var.env}\"', 'Sum', 300)"
  }
  widgets = [
    { title = "Channel occupancy (max per stream)", expr = local.search.occupancy },
    { title = "Book sequence gaps / 5 min", expr = local.search.gaps },
    { title = "Rows dropped by backpressure / min", expr = local.search.drops },
    { title = "Iceberg commit latency p99 (s)", expr = local.search.commit },
    { title = "429/418 answers per source IP / 5 min", expr = local.search.limited },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-overview"
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          metrics = [[{ expression = w.expr, id = "e${i}" }]]
        }
      }
    ]
  })
}
