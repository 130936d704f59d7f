output "table_bucket_arn" {
  description = "Iceberg warehouse (config sink.catalog.warehouse)."
  value       = module.table_bucket.table_bucket_arn
}

output "data_bucket" {
  description = "Landing bucket of the Parquet files (config sink.s3.bucket)."
  value       = module.table_bucket.data_bucket_name
}

output "ledger_table" {
  description = "File ledger table (config sink.ledger.table)."
  value       = module.ddb.ledger_table_name
}

output "fleet_table" {
  description = "Fleet membership table (config fleet.table)."
  value       = module.ddb.fleet_table_name
}

output "repository_urls" {
  description = "App => ECR repository to push images to."
  value       = module.ecr.repository_urls
}

output "egress_public_ips" {
  description = "Private source address => public EIP (what the venues see; allow-list these)."
  value       = module.eips.private_to_public
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.ecs.cluster_name
}

output "athena_workgroup" {
  description = "Athena workgroup."
  value       = module.athena.workgroup
}

output "athena_database" {
  description = "Quoted catalog.database for queries."
  value       = module.athena.catalog_database
}

output "dashboard" {
  description = "CloudWatch dashboard."
  value       = module.observability.dashboard_name
}

output "athena_named_queries" {
  description = "Named query => id (aws athena get-named-query --named-query-id)."
  value       = module.athena.named_query_ids
}
