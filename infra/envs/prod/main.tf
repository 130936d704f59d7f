# The whole CryptoFlow stack for one environment. dev and prod share this file; sizes live in terraform.tfvars.

locals {
  name_prefix  = "cryptoflow-${var.env}"
  cluster_name = local.name_prefix
  collectors   = [for s in keys(var.streams) : "collector-${s}"]
  apps         = concat(local.collectors, ["committer", "replayer"])
  data_prefix  = "lake/"
  catalog_uri  = "https://s3tables.${var.region}.amazonaws.com/iceberg"

  # Deployment-specific config values every task gets (collectors and committer share the sink keys; the
  # fleet table is set for collectors only by deploy/ecs); the rest is in configs/<env>/<app>.yaml.
  task_environment = {
    CF_SINK__S3__BUCKET         = module.table_bucket.data_bucket_name
    CF_SINK__S3__PREFIX         = local.data_prefix
    CF_SINK__S3__REGION         = var.region
    CF_SINK__LEDGER__TABLE      = module.ddb.ledger_table_name
    CF_SINK__LEDGER__REGION     = var.region
    CF_SINK__CATALOG__URI       = local.catalog_uri
    CF_SINK__CATALOG__WAREHOUSE = module.table_bucket.table_bucket_arn
    CF_SINK__CATALOG__NAMESPACE = module.tables.namespace
    AWS_REGION                  = var.region
  }
}

module "table_bucket" {
  source = "../../modules/s3tables_bucket"

  name                  = local.name_prefix
  reader_principal_arns = var.reader_principal_arns
}

module "tables" {
  source = "../../modules/s3tables_tables"

  table_bucket_arn = module.table_bucket.table_bucket_arn
  namespace        = var.namespace
}

module "ddb" {
  source = "../../modules/ddb_idem"

  name_prefix         = local.name_prefix
  deletion_protection = var.deletion_protection
}

module "ecr" {
  source = "../../modules/ecr"

  name_prefix = "cryptoflow"
  apps        = local.apps
}

module "ssm" {
  source = "../../modules/ssm_params"

  prefix     = "/cryptoflow/${var.env}"
  parameters = var.runtime_parameters
}

module "iam" {
  source = "../../modules/iam_writer"

  name_prefix        = local.name_prefix
  data_bucket_arn    = module.table_bucket.data_bucket_arn
  data_prefix        = local.data_prefix
  table_bucket_arn   = module.table_bucket.table_bucket_arn
  table_arns         = module.tables.table_arns
  ledger_table_arn   = module.ddb.ledger_table_arn
  fleet_table_arn    = module.ddb.fleet_table_arn
  ssm_parameter_arns = module.ssm.all_arns
}

resource "aws_security_group" "hosts" {
  name        = "${local.name_prefix}-hosts"
  description = "Collector hosts: outbound to venues and AWS; health/metrics ports from monitoring only."
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "hosts_https" {
  security_group_id = aws_security_group.hosts.id
  description       = "Venue WebSocket/REST and AWS endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "hosts_binance_ws" {
  security_group_id = aws_security_group.hosts.id
  description       = "Binance spot WebSocket port"
  ip_protocol       = "tcp"
  from_port         = 9443
  to_port           = 9443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "hosts_health" {
  for_each = toset(var.monitoring_cidrs)

  security_group_id = aws_security_group.hosts.id
  description       = "/live, /ready, /metrics"
  ip_protocol       = "tcp"
  from_port         = 9100
  to_port           = 9108
  cidr_ipv4         = each.key
}

resource "aws_security_group" "tasks" {
  name        = "${local.name_prefix}-tasks"
  description = "Committer and replayer tasks: outbound HTTPS only."
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "AWS endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

module "hosts" {
  source = "../../modules/ec2_multi_eni"

  name_prefix           = local.name_prefix
  ecs_cluster_name      = local.cluster_name
  subnet_id             = var.host_subnet_id
  security_group_ids    = [aws_security_group.hosts.id]
  host_count            = var.host_count
  enis_per_host         = var.enis_per_host
  secondary_ips_per_eni = var.secondary_ips_per_eni
  instance_type         = var.host_instance_type
}

module "eips" {
  source = "../../modules/eip_attach"

  name_prefix = local.name_prefix
  egress_ips  = module.hosts.egress_ips
}

module "ecs" {
  source = "../../../deploy/ecs"

  env                          = var.env
  name_prefix                  = local.name_prefix
  region                       = var.region
  cluster_name                 = local.cluster_name
  streams                      = var.streams
  image_repository_urls        = module.ecr.repository_urls
  image_repository_arns        = module.ecr.repository_arns
  image_tag                    = var.image_tag
  writer_role_arn              = module.iam.writer_role_arn
  committer_role_arn           = module.iam.committer_role_arn
  environment                  = local.task_environment
  parameter_arns               = module.ssm.parameter_arns
  fleet_table_name             = module.ddb.fleet_table_name
  target_occupancy             = var.target_occupancy
  committer_replicas           = var.committer_replicas
  committer_subnet_ids         = var.private_subnet_ids
  committer_security_group_ids = [aws_security_group.tasks.id]
}

module "observability" {
  source = "../../modules/observability"

  name_prefix        = local.name_prefix
  env                = var.env
  region             = var.region
  streams            = keys(var.streams)
  tables             = keys(module.tables.table_arns)
  egress_private_ips = [for ip in values(module.hosts.egress_ips) : ip.private_ip]
  alarm_emails       = var.alarm_emails
}

module "athena" {
  source = "../../modules/athena"

  name_prefix       = local.name_prefix
  table_bucket_name = module.table_bucket.table_bucket_name
  namespace         = module.tables.namespace
}
