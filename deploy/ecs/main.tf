# One ECS service per collector stream on EC2 hosts with host networking (so shards can bind the hosts'
# egress addresses), a committer service and a replayer task definition on Fargate.
#
# How replicas find each other: every collector task runs with fleet.mode=dynamic and the fleet table from
# modules/ddb_idem. Each replica heartbeats an item `member#<replica id>` under its app's group; shards are
# spread over the live members by rendezvous hashing, so when autoscaling adds or removes a task ~1/N of the
# shards move, with make-before-break handover (libs/sharding FleetMembership). No service discovery or
# peer addresses are needed: DynamoDB is the only shared state.
#
# Draining: on SIGTERM a collector stops reading, drains its channels, flushes open Parquet buffers to S3
# and records them in the ledger before exiting. ECS allows at most 120 s between SIGTERM and SIGKILL
# (stopTimeout's ceiling, on EC2 and Fargate alike); the collectors' flush_interval_ms and file sizes are
# set so a drain fits well inside it, and anything cut short is re-sent by the venue-side resync of the
# replica taking the shards over.

locals {
  stop_timeout_seconds = 120
  apps                 = { for s, cfg in var.streams : "collector-${s}" => merge(cfg, { stream = s }) }

  base_environment = merge(var.environment, {
    CRYPTOFLOW_ENV = var.env
    # CloudWatch EMF lines on stdout (shipped by awslogs): the autoscaling metric and the alarms' metrics.
    CRYPTOFLOW_EMF = "1"
    NODE_ENV       = "production"
    # Quiets the SDK's Node-22 notice on Node 20.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"
  })
  secrets = [for name, arn in var.parameter_arns : { name = name, valueFrom = arn }]

  # Distroless images have no shell: the check runs node on a bundled script that GETs /live.
  health_check = {
    command     = ["CMD", "/nodejs/bin/node", "/app/healthcheck.mjs"]
    interval    = 15
    timeout     = 5
    retries     = 3
    startPeriod = 60
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "app" {
  for_each = toset(concat(keys(local.apps), ["committer", "replayer"]))

  name              = "/cryptoflow/${var.env}/${each.key}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# ---------------------------------------------------------------- execution role (pull, logs, parameters)

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = sort(values(var.image_repository_arns))
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.app : "${g.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.parameter_arns) > 0 ? [1] : []
    content {
      sid       = "InjectParameters"
      actions   = ["ssm:GetParameters"]
      resources = sort(values(var.parameter_arns))
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptParameters"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---------------------------------------------------------------- collectors

resource "aws_ecs_task_definition" "collector" {
  for_each = local.apps

  family                   = "${var.name_prefix}-${each.key}"
  requires_compatibilities = ["EC2"]
  network_mode             = "host"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  task_role_arn            = var.writer_role_arn
  execution_role_arn       = aws_iam_role.execution.arn

  container_definitions = jsonencode([
    {
      name        = each.key
      image       = "${var.image_repository_urls[each.key]}:${var.image_tag}"
      essential   = true
      stopTimeout = local.stop_timeout_seconds
      environment = [
        for k, v in merge(local.base_environment, {
          CF_CONFIG           = "/app/configs/${var.env}/${each.key}.yaml"
          CF_HEALTH__PORT     = tostring(each.value.health_port)
          CF_FLEET__MODE      = "dynamic"
          CF_FLEET__TABLE     = var.fleet_table_name
          CF_EGRESS__DISCOVER = "interfaces"
        }) : { name = k, value = v }
      ]
      secrets         = local.secrets
      healthCheck     = local.health_check
      linuxParameters = { initProcessEnabled = true }
      ulimits         = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
      mountPoints     = [{ sourceVolume = "spill", containerPath = "/data" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app[each.key].name
          awslogs-region        = var.region
          awslogs-stream-prefix = each.value.stream
          mode                  = "non-blocking"
          max-buffer-size       = "25m"
        }
      }
    }
  ])

  # Spill segments survive a container restart on the same host (read back in order on start).
  volume {
    name      = "spill"
    host_path = "/var/lib/cryptoflow/${each.key}"
  }

  placement_constraints {
    type = "distinctInstance"
  }

  tags = var.tags
}

resource "aws_ecs_service" "collector" {
  for_each = local.apps

  name            = each.key
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.collector[each.key].arn
  desired_count   = each.value.min_replicas
  launch_type     = "EC2"

  # Start the replacement before stopping the old task: shards hand over make-before-break.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  placement_constraints {
    type = "distinctInstance"
  }

  ordered_placement_strategy {
    type  = "spread"
    field = "instanceId"
  }

  lifecycle {
    # Autoscaling owns the count after creation.
    ignore_changes = [desired_count]
  }

  tags = var.tags
}

resource "aws_appautoscaling_target" "collector" {
  for_each = local.apps

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.collector[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_replicas
  max_capacity       = each.value.max_replicas
}

# Target tracking on the metric in deploy/metrics-contract.json (test/infra checks name, namespace,
# dimensions and statistic against it): the collectors publish it as EMF through their logs.
resource "aws_appautoscaling_policy" "occupancy" {
  for_each = local.apps

  name               = "${var.name_prefix}-${each.key}-occupancy"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.collector[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.collector[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.collector[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_occupancy
    scale_in_cooldown  = var.scale_in_cooldown_seconds
    scale_out_cooldown = var.scale_out_cooldown_seconds

    customized_metric_specification {
      namespace   = "CryptoFlow"
      metric_name = "ChannelOccupancyMax"
      statistic   = "Average"
      unit        = "None"

      dimensions {
        name  = "Env"
        value = var.env
      }

      dimensions {
        name  = "Stream"
        value = each.value.stream
      }
    }
  }
}

# ---------------------------------------------------------------- committer and replayer (Fargate)

resource "aws_ecs_task_definition" "committer" {
  family                   = "${var.name_prefix}-committer"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  task_role_arn            = var.committer_role_arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name        = "committer"
      image       = "${var.image_repository_urls["committer"]}:${var.image_tag}"
      essential   = true
      stopTimeout = local.stop_timeout_seconds
      environment = [
        for k, v in merge(local.base_environment, {
          CF_CONFIG       = "/app/configs/${var.env}/committer.yaml"
          CF_HEALTH__PORT = "9100"
        }) : { name = k, value = v }
      ]
      secrets         = local.secrets
      healthCheck     = local.health_check
      linuxParameters = { initProcessEnabled = true }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app["committer"].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "committer"
        }
      }
    }
  ])

  tags = var.tags
}

resource "aws_ecs_service" "committer" {
  name            = "committer"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.committer.arn
  desired_count   = var.committer_replicas
  launch_type     = "FARGATE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.committer_subnet_ids
    security_groups  = var.committer_security_group_ids
    assign_public_ip = false
  }

  tags = var.tags
}

# No service: run on demand (docs/operations/replay-backfill.md).
resource "aws_ecs_task_definition" "replayer" {
  family                   = "${var.name_prefix}-replayer"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 4096
  memory                   = 8192
  task_role_arn            = var.writer_role_arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = 100
  }

  container_definitions = jsonencode([
    {
      name        = "replayer"
      image       = "${var.image_repository_urls["replayer"]}:${var.image_tag}"
      essential   = true
      stopTimeout = local.stop_timeout_seconds
      environment = [
        for k, v in merge(local.base_environment, {
          CF_HEALTH__PORT = "9100"
        }) : { name = k, value = v }
      ]
      secrets = local.secrets
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app["replayer"].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "replayer"
        }
      }
    }
  ])

  tags = var.tags
}
