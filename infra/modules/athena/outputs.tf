output "workgroup" {
  description = "Athena workgroup name (aws athena start-query-execution --work-group)."
  value       = aws_athena_workgroup.this.name
}

output "results_bucket" {
  description = "Bucket holding query results."
  value       = aws_s3_bucket.results.bucket
}

output "catalog_database" {
  description = "The quoted catalog.database prefix for queries: \"s3tablescatalog/<bucket>\".\"<namespace>\"."
  value       = local.db
}

output "named_query_ids" {
  description = "Query name => named query id."
  value       = { for k, q in aws_athena_named_query.this : k => q.id }
}
