# Key schemas mirror what libs/idempotency (ledger) and libs/sharding (fleet) create for local runs;
# in AWS Terraform owns the tables and the code only describes them. Neither relies on DynamoDB TTL:
# leases carry their own expiry and are reaped with conditional deletes.

resource "aws_dynamodb_table" "ledger" {
  name                        = "${var.name_prefix}-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "gsi1pk"
    type = "S"
  }

  attribute {
    name = "gsi1sk"
    type = "S"
  }

  attribute {
    name = "sh_pk"
    type = "S"
  }

  attribute {
    name = "file_key"
    type = "S"
  }

  # Files uploaded but not yet committed, per table and bucket, in upload order: the committer's work queue.
  global_secondary_index {
    name            = "uncommitted"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  # Every file of one (table, hour, shard): a standby taking over a dead owner's shard reads what it made durable.
  global_secondary_index {
    name            = "by_shard_hour"
    hash_key        = "sh_pk"
    range_key       = "file_key"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "fleet" {
  name                        = "${var.name_prefix}-fleet"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  # pk = group (the app, e.g. collector-ticks); sk = "meta" (stored total_shards) or "member#<replica id>".
  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
