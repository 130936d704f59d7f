# The namespace and its tables. The table resources themselves are in tables.gen.tf, generated from
# libs/model by tools/schema-gen: no schema is written here by hand.

resource "aws_s3tables_namespace" "this" {
  namespace        = var.namespace
  table_bucket_arn = var.table_bucket_arn

  lifecycle {
    prevent_destroy = true
  }
}

locals {
  table_maintenance = {
    iceberg_compaction = {
      settings = {
        target_file_size_mb = var.compaction_target_file_size_mb
      }
      status = "enabled"
    }
    iceberg_snapshot_management = {
      settings = {
        max_snapshot_age_hours = var.snapshot_max_age_hours
        min_snapshots_to_keep  = var.snapshot_min_to_keep
      }
      status = "enabled"
    }
  }
}
