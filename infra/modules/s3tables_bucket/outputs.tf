output "table_bucket_arn" {
  description = "Table bucket ARN: the Iceberg REST `warehouse` (config sink.catalog.warehouse)."
  value       = aws_s3tables_table_bucket.this.arn
}

output "table_bucket_name" {
  description = "Table bucket name, as Athena sees it under the s3tablescatalog catalog."
  value       = aws_s3tables_table_bucket.this.name
}

output "data_bucket_name" {
  description = "Landing bucket for Parquet data files (config sink.s3.bucket)."
  value       = aws_s3_bucket.data.bucket
}

output "data_bucket_arn" {
  description = "Landing bucket ARN."
  value       = aws_s3_bucket.data.arn
}
