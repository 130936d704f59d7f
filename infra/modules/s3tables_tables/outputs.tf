output "namespace" {
  description = "The Iceberg namespace (config sink.catalog.namespace)."
  value       = aws_s3tables_namespace.this.namespace
}

output "table_arns" {
  description = "Table name => table ARN, for IAM policies."
  value       = { for name, t in local.tables : name => t.arn }
}

output "table_warehouse_locations" {
  description = "Table name => S3 location S3 Tables manages for the table (metadata and compacted data)."
  value       = { for name, t in local.tables : name => t.warehouse_location }
}

output "table_schema_versions" {
  description = "Table name => schema version in libs/model when the Terraform was generated."
  value       = local.table_schema_versions
}
