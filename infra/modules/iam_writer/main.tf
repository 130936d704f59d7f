# Two task roles, each with only what its process calls:
# - writer (collectors, replayer): upload Parquet to the landing prefix, record files in the ledger,
#   heartbeat in the fleet table;
# - committer: read the ledger and take per-table leases, read the landed files, append snapshots to the
#   tables through the S3 Tables Iceberg REST endpoint.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [var.trusted_service]
    }
  }
}

locals {
  data_objects = "${var.data_bucket_arn}/${var.data_prefix}*"
  table_arns   = sort(values(var.table_arns))

  # Iceberg REST calls the committer makes: GET config (bucket), load namespace/table, read metadata,
  # write manifests (PutTableData) and swap the metadata pointer (UpdateTableMetadataLocation).
  s3tables_commit_actions = [
    "s3tables:GetTableBucket",
    "s3tables:GetNamespace",
    "s3tables:GetTable",
    "s3tables:GetTableMetadataLocation",
    "s3tables:UpdateTableMetadataLocation",
    "s3tables:GetTableData",
    "s3tables:PutTableData",
  ]
}

data "aws_iam_policy_document" "writer" {
  # GetObject: HeadObject on a content-derived key tells a retried upload the file is already there.
  statement {
    sid       = "UploadParquet"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"]
    resources = [local.data_objects]
  }

  statement {
    sid       = "RecordFiles"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
    resources = [var.ledger_table_arn]
  }

  # A standby taking over a dead owner's shard lists that shard's recorded files (then reads them: GetObject above).
  statement {
    sid       = "ReadShardFiles"
    actions   = ["dynamodb:Query"]
    resources = ["${var.ledger_table_arn}/index/by_shard_hour"]
  }

  statement {
    sid       = "FleetMembership"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:DescribeTable"]
    resources = [var.fleet_table_arn]
  }

  dynamic "statement" {
    for_each = length(var.ssm_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadRuntimeParameters"
      actions   = ["ssm:GetParameters", "ssm:GetParameter"]
      resources = var.ssm_parameter_arns
    }
  }

  dynamic "statement" {
    for_each = var.collectors_commit_inline ? [1] : []
    content {
      sid       = "CommitInline"
      actions   = local.s3tables_commit_actions
      resources = concat([var.table_bucket_arn], local.table_arns)
    }
  }

  dynamic "statement" {
    for_each = var.collectors_commit_inline ? [1] : []
    content {
      sid       = "LeaseTables"
      actions   = ["dynamodb:Query", "dynamodb:DeleteItem"]
      resources = [var.ledger_table_arn, "${var.ledger_table_arn}/index/uncommitted"]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseDataKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "committer" {
  statement {
    sid       = "ReadLandedFiles"
    actions   = ["s3:GetObject"]
    resources = [local.data_objects]
  }

  statement {
    sid = "LedgerAndLeases"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
    ]
    resources = [var.ledger_table_arn, "${var.ledger_table_arn}/index/uncommitted"]
  }

  statement {
    sid       = "CommitSnapshots"
    actions   = local.s3tables_commit_actions
    resources = concat([var.table_bucket_arn], local.table_arns)
  }

  dynamic "statement" {
    for_each = length(var.ssm_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadRuntimeParameters"
      actions   = ["ssm:GetParameters", "ssm:GetParameter"]
      resources = var.ssm_parameter_arns
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseDataKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "writer" {
  name               = "${var.name_prefix}-writer"
  description        = "CryptoFlow collectors and replayer: upload Parquet, record files, fleet heartbeats."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "writer" {
  name   = "writer"
  role   = aws_iam_role.writer.id
  policy = data.aws_iam_policy_document.writer.json
}

resource "aws_iam_role" "committer" {
  name               = "${var.name_prefix}-committer"
  description        = "CryptoFlow committer: ledgered files to Iceberg snapshots in S3 Tables."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "committer" {
  name   = "committer"
  role   = aws_iam_role.committer.id
  policy = data.aws_iam_policy_document.committer.json
}
